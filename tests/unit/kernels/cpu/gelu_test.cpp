// kernels/cpu/gelu and the linears with epilogues (kernels/cpu/matmul): the one-pass bias + GELU must agree
// with at::gelu (exact erf) over the whole range of the erf approximation, and the fused
// linears with their unfused compositions.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/linspace.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/sub.h>

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/matmul.h"

using namespace segkit;

namespace {
float max_difference(const at::Tensor& a, const at::Tensor& b) { return a.sub(b).abs().max().item().toFloat(); }
}  // namespace

TEST(Gelu, MatchesATenWithBias) {
  // Columns not a multiple of 16 (the masked tail), values from deep in the negative tail
  // (gelu → -0) to large positive ones (gelu → x), zero included.
  const at::Tensor x = at::linspace(-12.0, 12.0, 37 * 45).view({37, 45});
  const at::Tensor bias = at::randn({45});
  at::Tensor y = x.clone();
  kernels::add_bias_gelu_(y, bias);
  const at::Tensor want = at::gelu(x + bias);
  EXPECT_LT(max_difference(y, want), 1e-6f);
  EXPECT_TRUE(at::allclose(y, want, 1e-5, 1e-6));
}

TEST(Gelu, WithoutBiasAndOnOtherTypesAndLayouts) {
  at::Tensor y = at::randn({3, 4, 32}) * 4;
  const at::Tensor x = y.clone();
  kernels::add_bias_gelu_(y, at::Tensor());
  EXPECT_LT(max_difference(y, at::gelu(x)), 1e-6f);
  // Not contiguous, and float64: ATen's ops, same values.
  at::Tensor wide = at::randn({5, 40}), view = wide.slice(1, 0, 20);
  const at::Tensor before = view.clone();
  const at::Tensor bias = at::randn({20});
  kernels::add_bias_gelu_(view, bias);
  EXPECT_LT(max_difference(view, at::gelu(before + bias)), 1e-6f);
  at::Tensor d = at::randn({4, 9}).to(at::kDouble);
  const at::Tensor d0 = d.clone();
  kernels::add_bias_gelu_(d, at::Tensor());
  EXPECT_TRUE(at::allclose(d, at::gelu(d0)));
}

TEST(Gelu, Bfloat16IsComputedInFloat32AndRoundedOnce) {
  // 45 columns: two whole vectors and a tail; a float32 bias added before the rounding.
  const at::Tensor x = (at::randn({6, 45}) * 4).to(at::kBFloat16);
  const at::Tensor bias = at::randn({45});
  at::Tensor y = x.clone();
  kernels::add_bias_gelu_(y, bias);
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  const at::Tensor want = at::gelu(x.to(at::kFloat) + bias).to(at::kBFloat16).to(at::kFloat);
  // The same float32 value rounded to bfloat16: equal, or one unit apart where the erf's last
  // bits round the other way.
  EXPECT_LE(max_difference(y.to(at::kFloat), want), 0.0f + (want.abs().max().item<float>() / 128));
  EXPECT_GT(y.to(at::kFloat).eq(want).to(at::kFloat).mean().item<float>(), 0.95f);
}

TEST(Gelu, LinearGeluEqualsLinearThenGelu) {
  const at::Tensor x = at::randn({2, 7, 48}), w = at::randn({70, 48}) * 0.3, b = at::randn({70});
  const at::Tensor want = at::gelu(at::linear(x, w, b));
  EXPECT_LT(max_difference(kernels::linear_gelu(x, w, b), want), 1e-4f);
  EXPECT_LT(max_difference(kernels::linear_gelu(x, w, at::Tensor()), at::gelu(at::linear(x, w))), 1e-4f);
}

TEST(Gelu, LinearAccumulateAddsIntoItsTarget) {
  const at::Tensor x = at::randn({2, 7, 48}), w = at::randn({33, 48}) * 0.3, b = at::randn({33});
  const at::Tensor start = at::randn({2, 7, 33});
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias);
    const at::Tensor bias = with_bias ? b : at::Tensor();
    at::Tensor y = start.clone();
    kernels::linear_accumulate(y, x, w, bias);
    EXPECT_LT(max_difference(y, start + at::linear(x, w, bias)), 1e-4f);
  }
  // A target that is not contiguous takes the composed path, same result.
  at::Tensor wide = at::randn({2, 7, 66}), view = wide.slice(2, 0, 33);
  const at::Tensor before = view.clone();
  kernels::linear_accumulate(view, x, w, b);
  EXPECT_LT(max_difference(view, before + at::linear(x, w, b)), 1e-4f);
}
