// The fused bfloat16 attention against the same attention in double precision.
#include <ATen/TensorOperators.h>
#include <ATen/ops/einsum.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <gtest/gtest.h>

#include <string>

#include "models/sam/attention_bf16.h"

namespace {

struct Case {
  int64_t B, heads, kh, kw, d;
  bool rel;
};

// Upstream's attention with decomposed relative positions, in double from the bfloat16 inputs:
// softmax(scale·q·kᵀ + rel_h[..., y] + rel_w[..., x]) · v with rel_h = q·Rh[y_q]ᵀ, rel_w = q·Rw[x_q]ᵀ.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& Rh,
                     const at::Tensor& Rw, const Case& c, double scale) {
  const int64_t N = c.kh * c.kw;
  const at::Tensor qd = q.to(at::kDouble);
  at::Tensor s = at::matmul(qd, k.to(at::kDouble).transpose(2, 3)) * scale;
  if (Rh.defined()) {
    const at::Tensor q5 = qd.reshape({c.B, c.heads, c.kh, c.kw, c.d});
    const at::Tensor rel_h = at::einsum("bnhwc,hkc->bnhwk", {q5, Rh.to(at::kDouble)});
    const at::Tensor rel_w = at::einsum("bnhwc,wkc->bnhwk", {q5, Rw.to(at::kDouble)});
    s = (s.view({c.B, c.heads, c.kh, c.kw, c.kh, c.kw}) + rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).view({c.B, c.heads, N, N});
  }
  return at::matmul(at::softmax(s, -1), v.to(at::kDouble));
}

}  // namespace

TEST(AttentionBf16, EqualsAttentionInDouble) {
  if (!segkit::sam::fused_attention_bf16_supported(64)) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  // Several key blocks (32×32), one block with padding (windows of 14), blocks of an odd number
  // of keys (19 rows of 19) with a head size of a panel and a quarter, and short key rows.
  const Case cases[] = {{1, 2, 32, 32, 64, true}, {3, 2, 14, 14, 32, true}, {1, 1, 19, 19, 80, false}, {2, 1, 5, 40, 16, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.kh) + "x" + std::to_string(c.kw) + " d=" + std::to_string(c.d));
    const int64_t N = c.kh * c.kw;
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
    // q, k and v read in place from a qkv-like buffer, as the encoder passes them.
    at::Tensor qkv = at::randn({c.B, N, 3, c.heads, c.d}).to(at::kBFloat16);
    at::Tensor t = qkv.permute({2, 0, 3, 1, 4});
    at::Tensor q = t[0], k = t[1], v = t[2];
    at::Tensor Rh, Rw;  // upstream's get_rel_pos tables: query row × key row × head dimension
    if (c.rel) {
      Rh = at::randn({c.kh, c.kh, c.d}).mul(0.5).to(at::kBFloat16);
      Rw = at::randn({c.kw, c.kw, c.d}).mul(0.5).to(at::kBFloat16);
    }
    at::Tensor out = at::empty({c.B, N, c.heads, c.d}, at::kBFloat16).permute({0, 2, 1, 3});
    segkit::sam::fused_attention_bf16(q, k, v, Rh, Rw, c.kh, c.kw, scale, out);
    const at::Tensor want = reference(q, k, v, Rh, Rw, c, scale);
    const at::Tensor error = (out.to(at::kDouble) - want).abs();
    // The probabilities are rounded to bfloat16 (8 significant bits) before their product with
    // v, and the output again.
    EXPECT_LT(error.max().item<double>(), 0.02);
    EXPECT_LT(error.mean().item<double>(), 2e-3);
    if (c.rel) {  // the terms matter at this size: leaving them out is far off
      const at::Tensor plain = reference(q, k, v, at::Tensor(), at::Tensor(), c, scale);
      EXPECT_GT((plain - want).abs().max().item<double>(), 0.1);
    }
  }
}

TEST(AttentionBf16, RefusesWhatItCannotRun) {
  if (!segkit::sam::fused_attention_bf16_supported(64)) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  EXPECT_FALSE(segkit::sam::fused_attention_bf16_supported(24));  // not whole vectors of 16
  at::Tensor q = at::randn({1, 1, 16, 32}).to(at::kBFloat16);
  at::Tensor out = at::empty_like(q);
  EXPECT_ANY_THROW(segkit::sam::fused_attention_bf16(q, q, q, {}, {}, 4, 5, 1.0, out));  // 4·5 ≠ 16 keys
  EXPECT_ANY_THROW(segkit::sam::fused_attention_bf16(q.to(at::kFloat), q, q, {}, {}, 4, 4, 1.0, out));
}
