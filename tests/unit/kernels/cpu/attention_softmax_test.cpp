// Attention's in-place softmax (with the encoder's relative-position terms) against ATen's operators.
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/cpu/attention_softmax.h"
#include "test_util.h"
#include "segkit/error.h"

namespace {

// softmax(s + rel_h[..., y] + rel_w[..., x]) over the keys, in float32.
at::Tensor reference(const at::Tensor& scores, const at::Tensor& rel_h, const at::Tensor& rel_w) {
  at::Tensor s = scores.to(at::kFloat);
  if (rel_h.defined()) {
    const int64_t G = s.size(0), T = s.size(1), kh = rel_h.size(2), kw = rel_w.size(2);
    s = (s.view({G, T, kh, kw}) + rel_h.to(at::kFloat).unsqueeze(-1) + rel_w.to(at::kFloat).unsqueeze(-2)).view({G, T, -1});
  }
  return at::softmax(s, -1);
}

}  // namespace

TEST(AttentionSoftmax, EqualsAddThenSoftmax) {
  // Key grids with and without whole vectors of 16 per row, and rows shorter than a vector.
  for (auto [kh, kw] : {std::pair<int64_t, int64_t>{64, 64}, {14, 14}, {3, 37}, {2, 5}})
    for (auto type : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(std::to_string(kh) + "x" + std::to_string(kw) + (type == at::kFloat ? " float" : " bfloat16"));
      const int64_t G = 3, T = 7, N = kh * kw;
      // Scores spread like real ones (several units), so that exp covers a wide range.
      at::Tensor scores = at::randn({G, T, N}).mul(4).to(type);
      // rel_h groups further apart than their size: a slice of a larger tensor, as in a tile.
      at::Tensor rel_h = at::randn({G, T + 2, kh}).mul(2).to(type).slice(1, 0, T);
      at::Tensor rel_w = at::randn({G, T, kw}).mul(2).to(type);
      ASSERT_FALSE(rel_h.is_contiguous());
      const at::Tensor want = reference(scores, rel_h, rel_w);
      at::Tensor got = scores.clone();
      segkit::kernels::add_rel_pos_softmax_(got, rel_h, rel_w);
      // bfloat16 results carry 8 significant bits; float32 ones differ by the exp's few ulp and
      // the order of the sum.
      const double tol = type == at::kFloat ? 1e-5 : 4e-3;
      EXPECT_TRUE(at::allclose(got.to(at::kFloat), want, tol, 1e-7)) << (got.to(at::kFloat) - want).abs().max().item().toFloat();
      // Without the terms: the plain softmax.
      got = scores.clone();
      segkit::kernels::add_rel_pos_softmax_(got, at::Tensor(), at::Tensor());
      EXPECT_TRUE(at::allclose(got.to(at::kFloat), reference(scores, {}, {}), tol, 1e-7));
    }
}

TEST(AttentionSoftmax, FarBelowTheMaximumIsZeroNotNaN) {
  at::Tensor scores = at::zeros({1, 1, 32});
  scores[0][0][0] = 200.0f;  // every other key is exp(-200) below it
  scores[0][0][1] = 199.0f;
  segkit::kernels::add_rel_pos_softmax_(scores, at::Tensor(), at::Tensor());
  EXPECT_NEAR(scores[0][0][0].item<float>(), 1 / (1 + std::exp(-1.0f)), 1e-6);
  EXPECT_NEAR(scores[0][0][1].item<float>(), std::exp(-1.0f) / (1 + std::exp(-1.0f)), 1e-6);
  EXPECT_LT(scores[0][0][2].item<float>(), 1e-30f);
  EXPECT_FALSE(at::isnan(scores).any().item<bool>());
}

TEST(AttentionSoftmax, RefusesTermsThatDoNotFitTheKeys) {
  at::Tensor scores = at::randn({2, 3, 12});
  EXPECT_THROW(segkit::kernels::add_rel_pos_softmax_(scores, at::randn({2, 3, 3}), at::randn({2, 3, 5})), segkit::Error);
  EXPECT_THROW(segkit::kernels::add_rel_pos_softmax_(scores, at::randn({2, 3, 3}).to(at::kBFloat16), at::randn({2, 3, 4})),
               segkit::Error);
  EXPECT_THROW(segkit::kernels::add_rel_pos_softmax_(scores.transpose(1, 2), at::Tensor(), at::Tensor()), segkit::Error);
}

// The kernels read raw CPU pointers: a tensor of another device ("meta" stands in for a GPU
// here) is refused before its data is touched.
TEST(AttentionSoftmax, TensorsOfAnotherDeviceTakeTheAtenPath) {
  // PyTorch's "meta" device stands in for a GPU: ATen's softmax runs there (on shapes alone),
  // where the hand-written kernels would refuse the tensor.
  const at::Tensor meta = at::empty({2, 3, 12}, at::TensorOptions().device(at::kMeta));
  EXPECT_NO_THROW(segkit::kernels::add_rel_pos_softmax_(meta, at::Tensor(), at::Tensor()));
  EXPECT_NO_THROW(segkit::kernels::softmax_last_dim_(meta));
  EXPECT_NO_THROW(segkit::kernels::softmax_across_rows_(meta));
}

TEST(AttentionSoftmax, LastDimensionOfAnyShape) {
  for (auto type : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = at::randn({2, 3, 5, 4096}).mul(3).to(type);
    at::Tensor got = x.clone();
    segkit::kernels::softmax_last_dim_(got);
    EXPECT_TRUE(at::allclose(got.to(at::kFloat), at::softmax(x.to(at::kFloat), -1), type == at::kFloat ? 1e-6 : 4e-3, 1e-7));
  }
  EXPECT_THROW(segkit::kernels::softmax_last_dim_(at::randn({4, 6}).t()), segkit::Error);
}

TEST(AttentionSoftmax, AcrossTheRowsOfEachMatrix) {
  // Columns in whole vectors and a tail; rows as few as the decoder's prompt tokens, and one.
  for (auto [R, N] : {std::pair<int64_t, int64_t>{7, 4096 + 5}, {1, 20}, {3, 9}}) {
    const at::Tensor x = at::randn({2, 3, R, N}).mul(4);
    at::Tensor got = x.clone();
    segkit::kernels::softmax_across_rows_(got);
    EXPECT_TRUE(at::allclose(got, at::softmax(x, -2), 1e-5, 1e-7)) << R << "x" << N;
  }
  EXPECT_THROW(segkit::kernels::softmax_across_rows_(at::randn({4, 6}).to(at::kBFloat16)), segkit::Error);
}

TEST(AttentionSoftmax, WindowBiasAndMaskAsSwinAddsThem) {
  // Swin's 7×7 windows (49 keys: three whole vectors and a tail) and a row shorter than a vector;
  // a mask of 0 and −100 per window as the shifted windows have, and none.
  for (int64_t N : {49, 9}) {
    const int64_t windows = 4, heads = 3;
    const at::Tensor scores = at::randn({windows, heads, N, N}).mul(4);
    const at::Tensor bias = at::randn({heads, N, N}).mul(2);
    const at::Tensor mask = (at::randn({windows, N, N}) > 0).to(at::kFloat).mul(-100);
    for (bool masked : {true, false}) {
      SCOPED_TRACE(std::to_string(N) + (masked ? " keys, masked" : " keys"));
      at::Tensor want = scores + bias;
      if (masked) want.add_(mask.unsqueeze(1));
      want = at::softmax(want, -1);
      at::Tensor got = scores.clone();
      segkit::kernels::add_bias_softmax_(got, bias, masked ? mask : at::Tensor());
      EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-7)) << (got - want).abs().max().item().toFloat();
    }
  }
  at::Tensor scores = at::randn({2, 3, 4, 4});
  EXPECT_THROW(segkit::kernels::add_bias_softmax_(scores, at::randn({2, 4, 4}), at::Tensor()), segkit::Error);
  EXPECT_THROW(segkit::kernels::add_bias_softmax_(scores, at::randn({3, 4, 4}), at::randn({3, 4, 4})), segkit::Error);
}

TEST(AttentionSoftmax, MaskedKeysGetExactlyZero) {
  // Rows of whole vectors and a tail (Mask2Former's cross-attention: a row per query over a
  // level's positions, about half of them blocked), and a row with a single key left.
  const at::Tensor scores = at::randn({5, 16 * 9 + 7}).mul(4);
  at::Tensor blocked = at::rand({5, 16 * 9 + 7}) < 0.5;
  blocked[4].fill_(true);
  blocked[4][150] = false;
  const at::Tensor want = at::softmax(scores.masked_fill(blocked, -std::numeric_limits<float>::infinity()), -1);
  at::Tensor got = scores.clone();
  segkit::kernels::masked_softmax_(got, blocked);
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-7)) << (got - want).abs().max().item().toFloat();
  EXPECT_EQ(got.masked_select(blocked).abs().max().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(got[4][150].item<float>(), 1.0f);
  // No mask: the plain softmax.
  got = scores.clone();
  segkit::kernels::masked_softmax_(got, at::Tensor());
  EXPECT_TRUE(at::allclose(got, at::softmax(scores, -1), 1e-5, 1e-7));
  EXPECT_THROW(segkit::kernels::masked_softmax_(got, blocked.t().contiguous()), segkit::Error);
}
