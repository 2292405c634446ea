// kernels/cpu/layer_norm: the one-pass layer norm written in the next product's type must equal
// at::layer_norm(...).to(type), with row lengths that leave a masked tail, rows far from zero
// mean, and the fallbacks for what it does not take; in place too, with a bfloat16 copy; and
// rows merged side by side (Swin's patch merging) before the norm.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

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

TEST(LayerNorm, InPlaceEqualsTheOutOfPlaceKernelAndCopiesInBfloat16) {
  for (int64_t C : {256, 40}) {
    SCOPED_TRACE(C);
    const at::Tensor x = at::randn({3, 11, C}) * 3 + 50, w = at::randn({C}), b = at::randn({C});
    const at::Tensor want = kernels::layer_norm(x, w, b, 1e-5, at::kFloat);
    at::Tensor y = x.clone();
    EXPECT_FALSE(kernels::layer_norm_(y, w, b, 1e-5).defined());
    EXPECT_TRUE(at::equal(y, want));
    y = x.clone();
    const at::Tensor copy = kernels::layer_norm_(y, w, b, 1e-5, at::kBFloat16);
    EXPECT_TRUE(at::allclose(y, want, 1e-5, 1e-5));  // the kernel's, or ATen's without AVX-512 BF16
    ASSERT_EQ(copy.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::equal(copy, y.to(at::kBFloat16)));  // that float32 result rounded once
  }
  EXPECT_ANY_THROW(kernels::layer_norm_(at::randn({4, 6}).t(), at::randn({4}), at::randn({4}), 1e-5));
  EXPECT_ANY_THROW(kernels::layer_norm_(at::randn({4, 6}).to(at::kDouble), at::randn({6}), at::randn({6}), 1e-5));
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

TEST(LayerNorm, RowsGatherTheirSourceRowsAndZerosForNegativeIndices) {
  const at::Tensor x = at::randn({6, 40}) * 3 + 50, w = at::randn({40}), b = at::randn({40});
  const at::Tensor rows = at::tensor(std::vector<int64_t>{4, -1, 0, 5, -1, 2, 2});
  const at::Tensor normed = reference(x, w, b, at::kFloat);
  for (at::ScalarType type : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(type));
    const at::Tensor got = kernels::layer_norm_rows(x, rows, w, b, 1e-6, type);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{7, 40}));
    EXPECT_EQ(got.scalar_type(), type);
    const double tolerance = type == at::kFloat ? 1e-4 : 3e-2;
    for (int64_t i = 0; i < 7; ++i) {
      const int64_t source = rows[i].item<int64_t>();
      if (source < 0) EXPECT_EQ(got[i].abs().sum().item<float>(), 0.0f) << "row " << i;
      else EXPECT_LT(max_difference(got[i], normed[source]), tolerance) << "row " << i;
    }
  }
  EXPECT_ANY_THROW(kernels::layer_norm_rows(x, at::tensor(std::vector<int64_t>{6}), w, b, 1e-6, at::kFloat));
  EXPECT_ANY_THROW(kernels::layer_norm_rows(x.view({2, 3, 40}), rows, w, b, 1e-6, at::kFloat));
}

TEST(LayerNorm, MergedRowsNormTheirPiecesSideBySide) {
  const at::Tensor x = at::randn({6, 40}) * 3 + 50, w = at::randn({120}), b = at::randn({120});
  const std::vector<std::vector<int64_t>> pieces = {{4, -1, 0}, {5, 2, 2}, {-1, -1, 1}};
  at::Tensor rows = at::empty({3, 3}, at::kLong);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t g = 0; g < 3; ++g) rows[i][g] = pieces[i][g];
  for (at::ScalarType type : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(type));
    const at::Tensor got = kernels::layer_norm_merged_rows(x, rows, w, b, 1e-5, type);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, 120}));
    EXPECT_EQ(got.scalar_type(), type);
    for (int64_t i = 0; i < 3; ++i) {
      std::vector<at::Tensor> side;
      for (int64_t source : pieces[i]) side.push_back(source < 0 ? at::zeros({40}) : x[source]);
      const at::Tensor want = at::layer_norm(at::cat(side), {120}, w, b, 1e-5);
      EXPECT_LT(max_difference(got[i], want), type == at::kFloat ? 1e-4 : 3e-2) << "row " << i;
    }
  }
  EXPECT_ANY_THROW(kernels::layer_norm_merged_rows(x, rows.flatten(), w, b, 1e-5, at::kFloat));
  EXPECT_ANY_THROW(kernels::layer_norm_merged_rows(x, rows + 6, w, b, 1e-5, at::kFloat));  // past the last row
}
