// core/PackedLinear: oneDNN's bfloat16 matmul on weights packed once must compute what ATen's
// bfloat16 linear computes (float32 accumulation, one rounding to bfloat16), for the row count
// it was packed for and for others.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>

#include "kernels/cpu/packed_linear.h"

using segkit::kernels::PackedLinear;

namespace {

// Both sides in double from the same bfloat16 inputs; the packed result is rounded to bfloat16
// once (relative 2^-9), so it may differ from the exact value by that much of its size.
void expect_linear(const PackedLinear& packed, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const at::Tensor got = packed(x);
  const at::Tensor want = at::linear(x.to(at::kDouble), w.to(at::kDouble), b.defined() ? b.to(at::kDouble) : b);
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.scalar_type(), at::kBFloat16);
  const double error = (got.to(at::kDouble) - want).abs().max().item<double>();
  EXPECT_LT(error, 4e-3 * want.abs().max().item<double>());
}

}  // namespace

TEST(PackedLinear, EqualsTheLinearForAnyRowCount) {
  const at::Tensor w = at::randn({96, 80}).to(at::kBFloat16), b = at::randn({96}).to(at::kBFloat16);
  const auto packed = PackedLinear::pack(w, b, 64);
  if (!packed) GTEST_SKIP() << "no oneDNN bfloat16 matmul in this build or on this CPU";
  EXPECT_EQ(packed->in_features(), 80);
  EXPECT_EQ(packed->out_features(), 96);
  expect_linear(*packed, at::randn({1, 8, 8, 80}).to(at::kBFloat16), w, b);  // the rows it was packed for
  expect_linear(*packed, at::randn({3, 7, 80}).to(at::kBFloat16), w, b);     // other rows, another shape
  expect_linear(*packed, at::randn({2, 100}).to(at::kBFloat16).slice(1, 10, 90), w, b);  // a strided view
  const auto no_bias = PackedLinear::pack(w, at::Tensor(), 64);
  ASSERT_TRUE(no_bias);
  expect_linear(*no_bias, at::randn({5, 80}).to(at::kBFloat16), w, at::Tensor());
}

TEST(PackedLinear, RefusesWhatItCannotPackOrRun) {
  EXPECT_FALSE(PackedLinear::pack(at::randn({8, 8}), at::Tensor(), 4));  // float32 weights stay with ATen
  const at::Tensor w = at::randn({8, 16}).to(at::kBFloat16);
  EXPECT_FALSE(PackedLinear::pack(w, at::randn({7}).to(at::kBFloat16), 4));  // a bias of the wrong size
  const auto packed = PackedLinear::pack(w, at::Tensor(), 4);
  if (!packed) GTEST_SKIP() << "no oneDNN bfloat16 matmul in this build or on this CPU";
  EXPECT_ANY_THROW((*packed)(at::randn({4, 15}).to(at::kBFloat16)));
  EXPECT_ANY_THROW((*packed)(at::randn({4, 16})));
}
