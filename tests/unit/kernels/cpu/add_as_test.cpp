// kernels/cpu/add_as: (a + b).to(type) in one pass must equal ATen's sum and conversion to the
// bit, for b of a's shape and b repeated over a's leading dimensions, with lengths that leave a
// tail of fewer than 16 values in each repetition; other inputs take ATen's path.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>

#include "kernels/cpu/add_as.h"

using namespace segkit;

namespace {
void expect_aten(const at::Tensor& a, const at::Tensor& b, at::ScalarType type) {
  const at::Tensor got = kernels::add_as(a, b, type);
  EXPECT_EQ(got.scalar_type(), type);
  EXPECT_EQ(got.sizes(), a.sizes());
  EXPECT_TRUE(at::equal(got, (a + b).to(type)));
}
}  // namespace

TEST(AddAs, EqualsATenSumAndConversion) {
  for (at::ScalarType type : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(type));
    // 3 × 7 × 37: 259 values per repetition, so vectors straddle the repetitions' ends.
    const at::Tensor a = at::randn({3, 7, 37}) * 100, same = at::randn({3, 7, 37});
    expect_aten(a, same, type);
    expect_aten(a, at::randn({7, 37}), type);     // repeated over the batch
    expect_aten(a, at::randn({1, 7, 37}), type);  // the same with a leading one
    expect_aten(a, at::randn({37}), type);        // repeated over rows
    expect_aten(at::randn({2, 4096, 256}), at::randn({1, 4096, 256}), type);  // several tasks
  }
}

TEST(AddAs, OtherInputsTakeATen) {
  const at::Tensor a = at::randn({4, 6});
  expect_aten(a.t(), at::randn({6, 4}), at::kBFloat16);  // not contiguous
  expect_aten(a, at::randn({4, 1}), at::kFloat);         // broadcast ATen's way
  expect_aten(a.to(at::kDouble), at::randn({4, 6}).to(at::kDouble), at::kDouble);
  expect_aten(a, at::randn({4, 6}), at::kHalf);
}
