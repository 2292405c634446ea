// Decoder attention. Its cross attentions pair a few prompt tokens (5 + points) with thousands
// of image tokens. Projecting every image token to the inner width and back costs far more than
// the attention itself, which only mixes heads × prompt tokens (8 × 7 = 56) vectors. Products
// reassociate, so the projections on the image side can be folded into the few prompt-token
// rows instead:
//   scores_h = (q W_qhᵀ)(x W_khᵀ)ᵀ = (q W_qhᵀ W_kh) xᵀ     (the key bias shifts a whole softmax
//                                                          row and drops out)
//   out_h    = softmax(scores_h) (x W_vhᵀ + b_vh) = (softmax(scores_h) x) W_vhᵀ + b_vh
// and, image tokens asking the prompt tokens,
//   out      = Σ_h softmax(scores_h) (v_h W_o,hᵀ) + b_o.
// This is the same function up to float rounding, with about 2.3× fewer operations per prompt
// on the image side.
#include "models/sam/decoder_attention.h"

#include <ATen/ops/softmax.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/matmul.h"
#include "segkit/error.h"

namespace segkit::sam {

Attention Attention::load(const nn::WeightMap& w, const std::string& prefix, int heads) {
  Attention a;
  a.q_proj = nn::Linear::load(w, prefix + ".q_proj");
  a.k_proj = nn::Linear::load(w, prefix + ".k_proj");
  a.v_proj = nn::Linear::load(w, prefix + ".v_proj");
  a.out_proj = nn::Linear::load(w, prefix + ".out_proj");
  a.heads = heads;
  if (a.q_proj.out_features() % heads != 0)
    fail(w.source(), "tensor '" + prefix + ".q_proj.weight' width " + std::to_string(a.q_proj.out_features()) +
                         " is not divisible by " + std::to_string(heads) + " heads");
  return a;
}

at::Tensor Attention::operator()(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const {
  const int64_t B = std::max(q_in.size(0), k_in.size(0)), Nq = q_in.size(1), Nk = k_in.size(1);
  const int64_t inner = q_proj.out_features();
  // Folding pays when heads × (short side) is below the inner width. Keys shared by all prompts
  // are projected once for the whole batch, which is cheaper still.
  if (Nk > Nq && heads * Nq < inner && k_in.size(0) == B && q_in.size(0) == B) return fold_into_keys(q_in, k_in, v_in);
  if (Nq > Nk && heads * Nk < inner && k_in.size(0) == B) return fold_into_queries(q_in, k_in, v_in);
  return project_all(q_in, k_in, v_in);
}

// Upstream's order of operations: project q, k and v, attend per head, project out.
at::Tensor Attention::project_all(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const {
  auto separate = [&](const at::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
  };
  at::Tensor q = separate(q_proj(q_in)), k = separate(k_proj(k_in)), v = separate(v_proj(v_in));
  const int64_t B = std::max(q.size(0), k.size(0)), h = heads, Nq = q.size(2), Nk = k.size(2), d = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor out;
  if (k.size(0) == 1 && B > 1) {
    // Keys shared by every prompt (the image before any prompt touched it): all prompts'
    // queries against them in one product per head, no copies of the keys.
    at::Tensor qf = q.permute({1, 0, 2, 3}).reshape({h, B * Nq, d});
    at::Tensor attn = at::softmax(kernels::matmul(qf, k[0].transpose(1, 2), scale), -1);
    out = kernels::matmul(attn, v[0]).view({h, B, Nq, d}).permute({1, 0, 2, 3});
  } else if (q.size(0) == 1 && B > 1) {
    // Queries shared (image tokens asking each prompt's tokens): scores for all prompts in one
    // product per head, soft-maxed per prompt.
    at::Tensor kf = k.permute({1, 3, 0, 2}).reshape({h, d, B * Nk});
    at::Tensor attn = at::softmax(kernels::matmul(q[0], kf, scale).view({h, Nq, B, Nk}), -1);
    out = kernels::matmul(attn.permute({2, 0, 1, 3}), v);
  } else {
    at::Tensor attn = at::softmax(kernels::matmul(q, k.transpose(2, 3), scale), -1);
    out = kernels::matmul(attn, v);
  }
  out = out.transpose(1, 2).reshape({B, Nq, -1});
  return out_proj(out);
}

// Few queries (prompt tokens), many keys (image tokens, one set per prompt).
at::Tensor Attention::fold_into_keys(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const {
  const int64_t B = q_in.size(0), Nq = q_in.size(1), C = k_in.size(2), h = heads;
  const int64_t inner = q_proj.out_features(), d = inner / h;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor q = q_proj(q_in).view({B, Nq, h, d}).permute({0, 2, 1, 3});           // B×h×Nq×d
  at::Tensor wk = k_proj.weight.view({h, d, C}).unsqueeze(0).expand({B, h, d, C});
  at::Tensor qk = kernels::matmul(q, wk, scale).view({B, h * Nq, C});                  // queries in key space
  at::Tensor attn = at::softmax(kernels::matmul(qk, k_in.transpose(1, 2)), -1);       // B×(h·Nq)×Nk
  at::Tensor mixed = kernels::matmul(attn, v_in).view({B, h, Nq, C});                  // attention-weighted values
  at::Tensor wv = v_proj.weight.view({h, d, C}).transpose(1, 2).unsqueeze(0).expand({B, h, C, d});
  at::Tensor out = kernels::matmul(mixed, wv).transpose(1, 2).reshape({B, Nq, inner});
  if (v_proj.bias.defined()) out.add_(v_proj.bias);
  return out_proj(out);
}

// Many queries (image tokens, shared or one set per prompt), few keys (prompt tokens). Scores
// are laid out B×h×Nk×Nq, so that the softmax over the few prompt tokens runs along the
// contiguous image tokens (a softmax over rows of 7 costs more than the products here).
at::Tensor Attention::fold_into_queries(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const {
  const int64_t B = k_in.size(0), Nq = q_in.size(1), Nk = k_in.size(1), C = q_in.size(2), h = heads;
  const int64_t inner = q_proj.out_features(), d = inner / h;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor k = k_proj(k_in).view({B, Nk, h, d}).transpose(1, 2);  // B×h×Nk×d
  at::Tensor scores;
  if (q_in.size(0) == 1 && B > 1) {
    // Image tokens shared by every prompt: their projection is paid once for the batch.
    at::Tensor q = q_proj(q_in[0]).view({Nq, h, d}).permute({1, 2, 0});  // h×d×Nq
    scores = kernels::matmul(k, q.unsqueeze(0).expand({B, h, d, Nq}), scale);
  } else {
    // Key vectors pulled back through the query projection: (h·Nk) × C per prompt.
    at::Tensor wq = q_proj.weight.view({h, d, C}).unsqueeze(0).expand({B, h, d, C});
    at::Tensor kq = kernels::matmul(k, wq, scale).view({B, h * Nk, C});
    scores = kernels::matmul(kq, q_in.expand({B, Nq, C}).transpose(1, 2)).view({B, h, Nk, Nq});
    if (q_proj.bias.defined()) {
      // The query bias adds bq·k to each head's scores, the same for every image token.
      at::Tensor bq = q_proj.bias.view({h, d, 1}).unsqueeze(0).expand({B, h, d, 1});
      scores.add_(kernels::matmul(k, bq, scale));
    }
  }
  kernels::softmax_across_rows_(scores);
  at::Tensor attn = scores.view({B, h * Nk, Nq});
  // Each head's values carried through its slice of the output projection: (h·Nk) × C.
  at::Tensor v = v_proj(v_in).view({B, Nk, h, d}).transpose(1, 2);  // B×h×Nk×d
  at::Tensor wo = out_proj.weight.view({C, h, d}).permute({1, 2, 0}).unsqueeze(0).expand({B, h, d, C});
  at::Tensor vo = kernels::matmul(v, wo).view({B, h * Nk, C});
  at::Tensor out = kernels::matmul(attn.transpose(1, 2), vo);
  if (out_proj.bias.defined()) out.add_(out_proj.bias);
  return out;
}

}  // namespace segkit::sam
