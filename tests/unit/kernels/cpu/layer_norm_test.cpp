// kernels/cpu/layer_norm: the one-pass layer norm written in the next product's type must equal
// at::layer_norm(...).to(type), with row lengths that leave a masked tail, rows far from zero
// mean, and the fallbacks for what it does not take.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/randn.h>

#include "kernels/cpu/layer_norm.h"

using namespace segkit;

namespace {
at::Tensor reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, at::ScalarType type) {
  return at::layer_norm(x, {w.size(0)}, w, b, 1e-6).to(type);
}
float max_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item().toFloat();
}
}  // namespace

TEST(LayerNorm, Float32MatchesATen) {
  for (int64_t C : {768, 40, 7}) {
    SCOPED_TRACE(C);
    const at::Tensor x = at::randn({2, 9, C}) * 3 + 50, w = at::randn({C}), b = at::randn({C});
    const at::Tensor got = kernels::layer_norm(x, w, b, 1e-6, at::kFloat);
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    EXPECT_EQ(got.sizes(), x.sizes());
    EXPECT_LT(max_difference(got, reference(x, w, b, at::kFloat)), 2e-5f);
  }
}

TEST(LayerNorm, Bfloat16IsTheRoundedFloat32Result) {
  const at::Tensor x = at::randn({64, 96}), w = at::randn({96}), b = at::randn({96});
  const at::Tensor got = kernels::layer_norm(x, w, b, 1e-6, at::kBFloat16);
  EXPECT_EQ(got.scalar_type(), at::kBFloat16);
  // At most one bfloat16 step apart where the float32 results straddle a rounding boundary.
  const at::Tensor want = reference(x, w, b, at::kFloat);
  EXPECT_TRUE(at::allclose(got.to(at::kFloat), want, 8e-3, 1e-3));
}

TEST(LayerNorm, FallsBackForOtherLayoutsAndTypes) {
  const at::Tensor w = at::randn({20}), b = at::randn({20});
  const at::Tensor view = at::randn({5, 40}).slice(1, 0, 20);  // rows not contiguous
  EXPECT_LT(max_difference(kernels::layer_norm(view, w, b, 1e-6, at::kFloat), reference(view, w, b, at::kFloat)), 1e-6f);
  const at::Tensor d = at::randn({3, 20}).to(at::kDouble);
  const at::Tensor got = kernels::layer_norm(d, w.to(at::kDouble), b.to(at::kDouble), 1e-6, at::kDouble);
  EXPECT_EQ(got.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::allclose(got, reference(d, w.to(at::kDouble), b.to(at::kDouble), at::kDouble)));
}
