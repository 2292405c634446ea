// The fused attention kernel for float32: products with AVX-512 fused multiply-adds.
#include "kernels/cpu/attention_fused_problem.h"

#if SEGKIT_FUSED_ATTENTION_KERNELS
#define SEGKIT_KERNEL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#include "kernels/cpu/attention_fused_rel_pos.h"

namespace segkit::kernels::fused {
namespace {
struct Fp32 {
  using Element = float;
  static constexpr bool kCoarseExp = false;
  static constexpr bool kAmx = false;
  static constexpr int64_t kPerUnit = 1;
  static SEGKIT_KERNEL_INLINE __m512 broadcast(uint32_t unit) {
    float value;
    std::memcpy(&value, &unit, sizeof value);
    return _mm512_set1_ps(value);
  }
  static SEGKIT_KERNEL_INLINE __m512 madd(__m512 acc, __m512 a, __m512i b) {
    return _mm512_fmadd_ps(a, _mm512_castsi512_ps(b), acc);
  }
  static SEGKIT_KERNEL_INLINE void store(float* dst, __m512 v) { _mm512_storeu_ps(dst, v); }
  static SEGKIT_KERNEL_INLINE __m512 load(const float* src) { return _mm512_loadu_ps(src); }
};
}  // namespace

void attend_fp32(const Problem& problem) { attend_sam<Fp32>(problem); }

}  // namespace segkit::kernels::fused

#endif
