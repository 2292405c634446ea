#pragma once
// 16 lanes of float32 from and to float32 or bfloat16 memory, for the hand-vectorised kernels
// that take either type. Include only from x86-64 code compiled with GCC or clang; the functions
// carry their own instruction-set target and inline into callers whose target includes AVX-512F.
#include <c10/util/BFloat16.h>
#include <immintrin.h>

namespace segkit::kernels::avx512 {

#define SEGKIT_AVX512_CONVERT inline __attribute__((target("avx512f"), always_inline))

SEGKIT_AVX512_CONVERT __m512 load16(const float* v) { return _mm512_loadu_ps(v); }
// Exact: a bfloat16 is a float32 with 16 zero bits appended.
SEGKIT_AVX512_CONVERT __m512 load16(const c10::BFloat16* v) {
  const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

SEGKIT_AVX512_CONVERT void store16(float* out, __m512 v) { _mm512_storeu_ps(out, v); }
// Rounds to nearest even as c10::BFloat16 does, NaN to its quiet NaN.
SEGKIT_AVX512_CONVERT void store16(c10::BFloat16* out, __m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
  rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7fc0));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi32_epi16(rounded));
}

#undef SEGKIT_AVX512_CONVERT

}  // namespace segkit::kernels::avx512
