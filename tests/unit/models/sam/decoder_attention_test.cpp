// The decoder's attention folds its image-side projections into the prompt-token rows where
// that is cheaper (models/sam/decoder_attention.cpp). The SAM fixtures are too narrow to take
// those paths (4 heads × 7 tokens exceed their inner width of 16), so every path is pinned
// here at ViT-B's decoder widths against upstream's order of operations in double precision.
#include <gtest/gtest.h>

#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>

#include <cmath>

#include "models/sam/decoder_attention.h"

using segkit::sam::Attention;

namespace {

segkit::nn::Linear random_linear(int64_t out, int64_t in) {
  segkit::nn::Linear l;
  l.weight = at::randn({out, in}) / std::sqrt(static_cast<double>(in));
  l.bias = at::randn({out}) * 0.5;
  return l;
}

// ViT-B's cross attentions: width 256, 8 heads, inner width 128.
Attention vit_b_cross_attention() {
  Attention a;
  a.q_proj = random_linear(128, 256);
  a.k_proj = random_linear(128, 256);
  a.v_proj = random_linear(128, 256);
  a.out_proj = random_linear(256, 128);
  a.heads = 8;
  return a;
}

// Upstream transformer.py Attention, in double precision, batches broadcast.
at::Tensor reference(const Attention& a, const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) {
  auto d = [](const at::Tensor& t) { return t.to(at::kDouble); };
  auto lin = [&](const segkit::nn::Linear& l, const at::Tensor& x) { return at::linear(d(x), d(l.weight), d(l.bias)); };
  auto heads = [&](const at::Tensor& x) { return x.view({x.size(0), x.size(1), a.heads, -1}).transpose(1, 2); };
  at::Tensor q = heads(lin(a.q_proj, q_in)), k = heads(lin(a.k_proj, k_in)), v = heads(lin(a.v_proj, v_in));
  at::Tensor attn = at::softmax(at::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(q.size(3))), -1);
  at::Tensor out = at::matmul(attn, v).transpose(1, 2);
  return lin(a.out_proj, out.reshape({out.size(0), out.size(1), -1}).to(at::kFloat));
}

void expect_matches_reference(int64_t bq, int64_t nq, int64_t bk, int64_t nk) {
  at::manual_seed(nq * 131 + nk + bq * 7 + bk);
  const Attention a = vit_b_cross_attention();
  at::Tensor q = at::randn({bq, nq, 256}), k = at::randn({bk, nk, 256}), v = at::randn({bk, nk, 256});
  at::Tensor got = a(q, k, v), want = reference(a, q, k, v);
  ASSERT_EQ(got.sizes(), want.sizes());
  const double err = (got.to(at::kDouble) - want).abs().max().item<double>();
  const double scale = want.abs().max().item<double>();
  EXPECT_LT(err, 2e-5 * scale) << "Bq " << bq << " Nq " << nq << " Bk " << bk << " Nk " << nk;
}

}  // namespace

TEST(DecoderAttention, TokensToImageMatchesUpstream) {
  expect_matches_reference(1, 7, 1, 1024);  // one prompt: projections folded into the tokens
  expect_matches_reference(3, 7, 3, 1024);  // a batch with its own image tokens per prompt
  expect_matches_reference(3, 7, 1, 1024);  // image tokens shared by the batch: projected once
  expect_matches_reference(2, 20, 2, 512);  // many points: 8 × 20 tokens exceed the inner width
}

TEST(DecoderAttention, ImageToTokensMatchesUpstream) {
  expect_matches_reference(1, 1024, 1, 7);  // one prompt
  expect_matches_reference(3, 1024, 3, 7);  // per-prompt image tokens
  expect_matches_reference(1, 1024, 3, 7);  // image tokens shared by the batch
  expect_matches_reference(2, 512, 2, 20);  // many points
}

TEST(DecoderAttention, TokenSelfAttentionMatchesUpstream) { expect_matches_reference(4, 7, 4, 7); }
