// The fused attention kernel for bfloat16: products with AVX-512 BF16's vdpbf16ps, or on AMX
// tiles where the CPU has them.
#include "core/cpu_features.h"
#include "kernels/cpu/attention_fused_problem.h"

#if SEGKIT_FUSED_ATTENTION_KERNELS
#define SEGKIT_KERNEL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
#include "kernels/cpu/attention_fused_rel_pos.h"

namespace segkit::kernels::fused {
namespace {
struct Bf16 {
  using Element = uint16_t;
  static constexpr bool kCoarseExp = true;
  static constexpr bool kAmx = false;
  static constexpr int64_t kPerUnit = 2;
  static SEGKIT_KERNEL_INLINE __m512bh broadcast(uint32_t unit) {
    return (__m512bh)_mm512_set1_epi32(static_cast<int32_t>(unit));
  }
  static SEGKIT_KERNEL_INLINE __m512 madd(__m512 acc, __m512bh a, __m512i b) { return _mm512_dpbf16_ps(acc, a, (__m512bh)b); }
  static SEGKIT_KERNEL_INLINE void store(uint16_t* dst, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), (__m256i)_mm512_cvtneps_pbh(v));
  }
  static SEGKIT_KERNEL_INLINE __m512 load(const uint16_t* src) {  // bfloat16 is float32's upper half
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};
struct Bf16Amx : Bf16 {
  static constexpr bool kAmx = true;
};
}  // namespace

void attend_bf16(const Problem& problem) {
#if SEGKIT_AMX_KERNELS
  if (core::cpu_has_amx_bf16()) return attend_sam<Bf16Amx>(problem);
#endif
  attend_sam<Bf16>(problem);
}

}  // namespace segkit::kernels::fused

#endif
