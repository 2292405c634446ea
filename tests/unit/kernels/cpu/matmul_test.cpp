// kernels/cpu/matmul: the oneDNN-backed products must agree with ATen's for every layout the models
// pass them (transposed views, strided rows, batches big and small) and fall back for others.
#include <gtest/gtest.h>

#include <ATen/ops/allclose.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/full.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/sub.h>

#include <limits>

#include "kernels/cpu/matmul.h"

using namespace segkit;

namespace {
void expect_close(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-4, 1e-4)) << "max difference " << got.sub(want).abs().max().item().toFloat();
}
}  // namespace

TEST(Matmul, LinearMatchesATenWithAndWithoutBias) {
  const at::Tensor x = at::randn({2, 5, 7, 48}), w = at::randn({33, 48}), b = at::randn({33});
  expect_close(kernels::linear(x, w, b), at::linear(x, w, b));
  expect_close(kernels::linear(x, w, at::Tensor()), at::linear(x, w));
  const at::Tensor strided = at::randn({9, 96}).slice(1, 0, 48);  // rows not contiguous
  expect_close(kernels::linear(strided, w, b), at::linear(strided, w, b));
  const at::Tensor empty = at::randn({0, 48});
  EXPECT_EQ(kernels::linear(empty, w, b).sizes(), at::IntArrayRef({0, 33}));
}

TEST(Matmul, LinearFallsBackForOtherDtypes) {
  const at::Tensor x = at::randn({4, 16}).to(at::kDouble), w = at::randn({8, 16}).to(at::kDouble);
  const at::Tensor y = kernels::linear(x, w, at::Tensor());
  EXPECT_EQ(y.scalar_type(), at::kDouble);
  expect_close(y.to(at::kFloat), at::linear(x, w).to(at::kFloat));
}

TEST(Matmul, BatchedProductsMatchATenForTheAttentionLayouts) {
  for (int64_t windows : {1, 3, 20}) {
    SCOPED_TRACE(windows);
    // q, k, v as views into one qkv projection (rows 3·width apart), as the encoder reads them.
    const at::Tensor qkv = at::randn({windows, 37, 3, 2, 16}).permute({2, 0, 3, 1, 4});  // 3×B×heads×N×16
    const at::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    at::Tensor scores = at::randn({windows, 2, 37, 37});
    at::Tensor want = scores.clone().add_(at::matmul(q, k.transpose(2, 3)), 0.25);
    kernels::matmul_into(scores, q, k.transpose(2, 3), 1.0, 0.25);
    expect_close(scores, want);

    // beta = 0 overwrites: whatever the output held (NaN here) must not leak into the result.
    at::Tensor out = at::full({windows, 2, 37, 16}, std::numeric_limits<float>::quiet_NaN());
    kernels::matmul_into(out, scores, v);
    expect_close(out, at::matmul(scores, v));
    // Output rows strided inside a wider tensor (the heads' slots of one output row).
    at::Tensor wide = at::full({windows, 37, 2, 16}, 7.0f);
    kernels::matmul_into(wide.permute({0, 2, 1, 3}), scores, v);
    expect_close(wide.permute({0, 2, 1, 3}), at::matmul(scores, v));
    // An expanded (stride 0) batch operand, as the relative-position tables.
    const at::Tensor table = at::randn({16, 5});
    at::Tensor rel = at::empty({windows, 2, 37, 5});
    kernels::matmul_into(rel, q, table.expand({windows, 2, 16, 5}));
    expect_close(rel, at::matmul(q, table));
  }
}

TEST(Matmul, FallsBackForLayoutsItCannotReadInPlace) {
  const at::Tensor a = at::randn({4, 6, 8}).slice(2, 0, 8, 2);  // columns 2 apart: no unit stride
  const at::Tensor b = at::randn({4, 4, 5});
  at::Tensor out = at::zeros({4, 6, 5});
  kernels::matmul_into(out, a, b);
  expect_close(out, at::matmul(a, b));
}

TEST(Matmul, FallbackAccumulatesWithBetaAndAlpha) {
  // float64 always takes ATen's path; beta = 1 (the encoder's scores on top of the
  // relative-position terms) and any other beta must both accumulate.
  const at::Tensor a = at::randn({3, 6, 8}).to(at::kDouble), b = at::randn({3, 8, 5}).to(at::kDouble);
  const at::Tensor start = at::randn({3, 6, 5}).to(at::kDouble);
  for (double beta : {1.0, 0.5}) {
    SCOPED_TRACE(beta);
    at::Tensor out = start.clone();
    kernels::matmul_into(out, a, b, beta, 0.25);
    expect_close(out.to(at::kFloat), start.mul(beta).add(at::matmul(a, b), 0.25).to(at::kFloat));
  }
  EXPECT_FALSE(kernels::matmul_reads_views_in_place(at::kDouble));
  EXPECT_FALSE(kernels::matmul_reads_views_in_place(at::kBFloat16));
}
