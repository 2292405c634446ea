// kernels/cpu/avx512_exp: exp and exp2 in 16 lanes against the C library in double, over the range
// the softmax and GELU kernels feed them (scores far below the row maximum up to its slack).
#include <gtest/gtest.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cmath>

#include "core/cpu_features.h"
#include "kernels/cpu/avx512_exp.h"

namespace {

enum class Fn { Exp, Exp2 };

// The largest relative error of fn over [lo, hi] sampled densely (every lane different).
__attribute__((target("avx512f"))) double largest_relative_error(Fn fn, float lo, float hi) {
  constexpr int kSteps = 200000;
  double worst = 0;
  for (int i = 0; i < kSteps; i += 16) {
    alignas(64) float x[16], y[16];
    for (int l = 0; l < 16; ++l) x[l] = lo + (hi - lo) * float(i + l) / kSteps;
    const __m512 v = _mm512_load_ps(x);
    _mm512_store_ps(y, fn == Fn::Exp ? segkit::kernels::avx512::exp(v) : segkit::kernels::avx512::exp2(v));
    for (int l = 0; l < 16; ++l) {
      const double want = fn == Fn::Exp ? std::exp(double(x[l])) : std::exp2(double(x[l]));
      worst = std::max(worst, std::abs(y[l] - want) / want);
    }
  }
  return worst;
}

}  // namespace

TEST(Avx512Exp, WithinAFewUlpOverTheSoftmaxRange) {
  if (!segkit::core::cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  EXPECT_LT(largest_relative_error(Fn::Exp, -80.0f, 12.0f), 3e-7);
  EXPECT_LT(largest_relative_error(Fn::Exp2, -120.0f, 16.0f), 3e-7);
  // Reduction boundaries, where the polynomial's argument is at its ends.
  EXPECT_LT(largest_relative_error(Fn::Exp2, -0.6f, 0.6f), 3e-7);
}

#endif
