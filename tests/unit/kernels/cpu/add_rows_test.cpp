// kernels/cpu/add_rows: y[rows[i]] += src[i] in place, negative indices dropped, against
// index_add_, for float32 and bfloat16 rows, and refusing repeated or out-of-range indices.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/cpu/add_rows.h"
#include "segkit/error.h"

using namespace segkit;

TEST(AddRows, AddsEachRowWhereItsIndexPoints) {
  const at::Tensor start = at::randn({6, 20});
  const at::Tensor rows = at::tensor(std::vector<int64_t>{3, -1, 0, 5, -1});
  for (at::ScalarType type : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(type));
    const at::Tensor src = at::randn({5, 20}).to(type);
    at::Tensor want = start.clone();
    const at::Tensor kept = at::tensor(std::vector<int64_t>{0, 2, 3});
    want.index_add_(0, at::tensor(std::vector<int64_t>{3, 0, 5}), src.index_select(0, kept).to(at::kFloat));
    at::Tensor y = start.clone();
    kernels::add_rows_(y, rows, src);
    EXPECT_TRUE(at::allclose(y, want, 1e-6, 1e-6));
    EXPECT_TRUE(at::equal(y[1], start[1]));  // rows nobody points at stay
  }
  at::Tensor strided = start.t().contiguous().t();  // not contiguous: ATen's index_add_
  kernels::add_rows_(strided, rows, at::ones({5, 20}));
  EXPECT_TRUE(at::allclose(strided[3], start[3] + 1));
}

TEST(AddRows, RefusesRepeatedOrOutOfRangeIndices) {
  at::Tensor y = at::zeros({4, 8});
  const at::Tensor src = at::ones({2, 8});
  EXPECT_THROW(kernels::add_rows_(y, at::tensor(std::vector<int64_t>{1, 1}), src), Error);
  EXPECT_THROW(kernels::add_rows_(y, at::tensor(std::vector<int64_t>{1, 4}), src), Error);
  EXPECT_THROW(kernels::add_rows_(y, at::tensor(std::vector<int64_t>{1}), src), Error);
  EXPECT_TRUE(at::equal(y, at::zeros({4, 8})));
}
