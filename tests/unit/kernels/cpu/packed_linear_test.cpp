// kernels/PackedLinear: oneDNN's matmul on weights packed once must compute what a linear layer
// computes (float32 accumulation, one rounding to the output type), for the row count it was
// packed for and for others, with its activations, its accumulating form and float32 output,
// and from float32 weights converted to bfloat16 as they are packed.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/zeros.h>

#include "kernels/cpu/packed_linear.h"

using segkit::kernels::LinearActivation;
using segkit::kernels::PackedLinear;

namespace {

// The exact result in double from the same inputs, with the activation.
at::Tensor reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, LinearActivation a) {
  at::Tensor y = at::linear(x.to(at::kDouble), w.to(at::kDouble), b.defined() ? b.to(at::kDouble) : b);
  if (a == LinearActivation::kRelu) y = at::relu(y);
  if (a == LinearActivation::kGelu) y = at::gelu(y);
  return y;
}

// bfloat16 results are rounded once (relative 2^-9); float32 ones differ by the sum's rounding.
double tolerance(at::ScalarType type) { return type == at::kBFloat16 ? 4e-3 : 1e-5; }

void expect_linear(const PackedLinear& packed, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                   LinearActivation a = LinearActivation::kNone) {
  const at::Tensor got = packed(x, a);
  const at::Tensor want = reference(x, w, b, a);
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.scalar_type(), w.scalar_type());
  const double error = (got.to(at::kDouble) - want).abs().max().item<double>();
  EXPECT_LT(error, tolerance(w.scalar_type()) * want.abs().max().item<double>());
}

class PackedLinearOfType : public ::testing::TestWithParam<at::ScalarType> {};

}  // namespace

TEST_P(PackedLinearOfType, EqualsTheLinearForAnyRowCount) {
  const at::ScalarType type = GetParam();
  const at::Tensor w = at::randn({96, 80}).to(type), b = at::randn({96}).to(type);
  const auto packed = PackedLinear::pack(w, b, 64);
  if (!packed) GTEST_SKIP() << "no oneDNN matmul of this type in this build or on this CPU";
  EXPECT_EQ(packed->in_features(), 80);
  EXPECT_EQ(packed->out_features(), 96);
  EXPECT_EQ(packed->type(), type);
  expect_linear(*packed, at::randn({1, 8, 8, 80}).to(type), w, b);                // the rows it was packed for
  expect_linear(*packed, at::randn({3, 7, 80}).to(type), w, b);                   // other rows, another shape
  expect_linear(*packed, at::randn({2, 100}).to(type).slice(1, 10, 90), w, b);    // a strided view
  const auto no_bias = PackedLinear::pack(w, at::Tensor(), 64);
  ASSERT_TRUE(no_bias);
  expect_linear(*no_bias, at::randn({5, 80}).to(type), w, at::Tensor());
}

TEST_P(PackedLinearOfType, AppliesItsActivationInsideTheProduct) {
  const at::ScalarType type = GetParam();
  const at::Tensor w = at::randn({48, 32}).to(type), b = at::randn({48}).to(type);
  const auto packed = PackedLinear::pack(w, b, 16);
  if (!packed) GTEST_SKIP() << "no oneDNN matmul of this type in this build or on this CPU";
  const at::Tensor x = at::randn({37, 32}).to(type);
  expect_linear(*packed, x, w, b, LinearActivation::kRelu);
  expect_linear(*packed, x, w, b, LinearActivation::kGelu);
  // ReLU really clamps: about half the outputs are exactly zero.
  const double zeros = ((*packed)(x, LinearActivation::kRelu) == 0).sum().item<double>();
  EXPECT_GT(zeros, 0.25 * 37 * 48);
}

TEST_P(PackedLinearOfType, AccumulatesIntoAFloat32Sum) {
  const at::ScalarType type = GetParam();
  const at::Tensor w = at::randn({40, 24}).to(type), b = at::randn({40}).to(type);
  const auto packed = PackedLinear::pack(w, b, 8);
  if (!packed) GTEST_SKIP() << "no oneDNN matmul of this type in this build or on this CPU";
  const at::Tensor x = at::randn({2, 9, 24}).to(type), start = at::randn({2, 9, 40});
  const at::Tensor want = start.to(at::kDouble) + reference(x, w, b, LinearActivation::kNone);
  for (bool contiguous : {true, false}) {
    // A non-contiguous sum (a transposed view) takes the add after the product.
    at::Tensor y = contiguous ? start.clone() : start.transpose(0, 1).contiguous().transpose(0, 1);
    packed->accumulate(y, x);
    const double error = (y.to(at::kDouble) - want).abs().max().item<double>();
    EXPECT_LT(error, tolerance(type) * want.abs().max().item<double>()) << (contiguous ? "contiguous" : "strided");
  }
  EXPECT_ANY_THROW(packed->accumulate(at::zeros({2, 9, 40}, at::kDouble), x));  // the sum must be float32
  EXPECT_ANY_THROW(packed->accumulate(at::zeros({2, 8, 40}), x));               // and of x's rows
}

TEST_P(PackedLinearOfType, WritesFloat32Unrounded) {
  const at::ScalarType type = GetParam();
  const at::Tensor w = at::randn({40, 24}).to(type), b = at::randn({40}).to(type);
  const auto packed = PackedLinear::pack(w, b, 8);
  if (!packed) GTEST_SKIP() << "no oneDNN matmul of this type in this build or on this CPU";
  const at::Tensor x = at::randn({2, 9, 24}).to(type);
  for (LinearActivation a : {LinearActivation::kNone, LinearActivation::kRelu}) {
    const at::Tensor got = (*packed)(x, a, at::kFloat);
    ASSERT_EQ(got.scalar_type(), at::kFloat);
    // The float32 sums, well within a bfloat16 rounding of the exact result.
    const at::Tensor want = reference(x, w, b, a);
    const double error = (got.to(at::kDouble) - want).abs().max().item<double>();
    EXPECT_LT(error, 1e-5 * want.abs().max().item<double>());
  }
  if (type == at::kBFloat16) EXPECT_ANY_THROW((*packed)(x, LinearActivation::kNone, at::kHalf));
}

INSTANTIATE_TEST_SUITE_P(Types, PackedLinearOfType, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) {
                           return info.param == at::kFloat ? std::string("Float32") : std::string("BFloat16");
                         });

TEST(PackedLinear, ConvertsFloat32WeightsAsItPacksThem) {
  // A strided view (transposed rows) packed straight from float32 to bfloat16: the same layer
  // as the converted copy packed.
  const at::Tensor w = at::randn({24, 40}).t(), b = at::randn({40});
  const auto converted = PackedLinear::pack(w, b, 8, at::kBFloat16);
  const auto copied = PackedLinear::pack(w.to(at::kBFloat16), b.to(at::kBFloat16), 8);
  if (!copied) GTEST_SKIP() << "no oneDNN bfloat16 matmul in this build or on this CPU";
  ASSERT_TRUE(converted);
  EXPECT_EQ(converted->type(), at::kBFloat16);
  const at::Tensor x = at::randn({9, 24}).to(at::kBFloat16);
  EXPECT_TRUE(at::equal((*converted)(x, LinearActivation::kNone, at::kFloat),
                        (*copied)(x, LinearActivation::kNone, at::kFloat)));
  EXPECT_FALSE(PackedLinear::pack(w, b, 8, at::kHalf));
}

TEST(PackedLinear, RefusesWhatItCannotPackOrRun) {
  EXPECT_FALSE(PackedLinear::pack(at::randn({8, 8}, at::kDouble), at::Tensor(), 4));  // float64 stays with ATen
  EXPECT_FALSE(PackedLinear::pack(at::randn({8, 8}), at::randn({8}).to(at::kBFloat16), 4));  // mixed types
  const at::Tensor w = at::randn({8, 16}).to(at::kBFloat16);
  EXPECT_FALSE(PackedLinear::pack(w, at::randn({7}).to(at::kBFloat16), 4));  // a bias of the wrong size
  const auto packed = PackedLinear::pack(w, at::Tensor(), 4);
  if (!packed) GTEST_SKIP() << "no oneDNN bfloat16 matmul in this build or on this CPU";
  EXPECT_ANY_THROW((*packed)(at::randn({4, 15}).to(at::kBFloat16)));
  EXPECT_ANY_THROW((*packed)(at::randn({4, 16})));
}
