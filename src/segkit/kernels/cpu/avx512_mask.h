#pragma once
// The mask of the first n of 16 float lanes, for the masked tail of a row in the
// hand-vectorised AVX-512 kernels. Include only from x86-64 code compiled with GCC or clang.
#include <immintrin.h>

#include <cstdint>

namespace segkit::kernels::avx512 {

// All lanes from n = 16 on, none for n <= 0.
inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

}  // namespace segkit::kernels::avx512
