#include "models/sam/factored_transformer.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/add.h>
#include <ATen/ops/addcmul.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>

#include <cmath>

#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/matmul.h"
#include "models/sam/decoder_attention.h"

namespace segkit::sam {

namespace {

// x (N×C) through weight (O×C, y = x·weightᵀ), per head and transposed: H×(O/H)×N.
at::Tensor heads_by_tokens(const at::Tensor& x, const at::Tensor& weight, int64_t heads) {
  const int64_t N = x.size(0), O = weight.size(0);
  return kernels::linear(x, weight, at::Tensor()).view({N, heads, O / heads}).permute({1, 2, 0}).contiguous();
}

// The same, H×N×(O/H).
at::Tensor tokens_by_heads(const at::Tensor& x, const at::Tensor& weight, int64_t heads) {
  const int64_t N = x.size(0), O = weight.size(0);
  return kernels::linear(x, weight, at::Tensor()).view({N, heads, O / heads}).permute({1, 0, 2}).contiguous();
}

// Per-prompt arrays here are laid out B×R×H×…: token-major, head-minor. A head's rows of all
// prompts then form one matrix with a fixed row stride, so a product with a shared per-head
// matrix is one product per head for the whole batch (batches of R×… per prompt and head ran
// at a sixth of the speed).
at::Tensor heads_first(const at::Tensor& x) { return x.flatten(0, 1).transpose(0, 1); }  // H×(B·R)×K

// a (B×R×H×K) times shared (H×K×X) per head → B×R×H×X; into `out` with out = beta·out + a·shared.
at::Tensor times_shared(const at::Tensor& a, const at::Tensor& shared) {
  at::Tensor out = at::empty({a.size(0), a.size(1), a.size(2), shared.size(2)}, a.options());
  kernels::matmul_into(heads_first(out), heads_first(a), shared);
  return out;
}
void times_shared_into(const at::Tensor& out, const at::Tensor& a, const at::Tensor& shared, double beta) {
  kernels::matmul_into(out.view({-1, out.size(2), out.size(3)}).transpose(0, 1), heads_first(a), shared, beta);
}

// Dot products of x's rows (N×C) with v (C); zeros where v is undefined (a layer without bias).
at::Tensor row_dots(const at::Tensor& x, const at::Tensor& v) {
  if (!v.defined()) return at::zeros({x.size(0)}, x.options());
  return kernels::matmul(x, v.unsqueeze(1)).squeeze(1);
}

// B×R×(H·d) → B×R×H×d.
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads});
}

// Scores of per-prompt head vectors q (B×R×H×d) against their prompt's image tokens through the
// projection `weight` (H·d × C): S[b,r,h,n] = q[b,r,h]·(W_h·(X[b,n] + pe[n])), B×R×H×N.
at::Tensor scores_against_image(const at::Tensor& q, const at::Tensor& z_proj, const at::Tensor& pe_proj,
                                const FactoredImageTokens& x, const at::Tensor& weight) {
  const int64_t B = q.size(0), R = q.size(1), H = q.size(2), d = q.size(3), N = z_proj.size(2);
  at::Tensor s = times_shared(q, z_proj);
  if (x.scale.defined()) s.mul_(x.scale.view({B, 1, 1, N}));
  if (pe_proj.defined()) times_shared_into(s, q, pe_proj, 1.0);
  if (x.coeffs.defined()) {
    // The basis through the projection, then against q: B×R×H×n.
    const int64_t n = x.basis.size(1);
    const at::Tensor basis_heads = kernels::linear(x.basis, weight, at::Tensor()).view({B, n, H, d}).permute({0, 2, 3, 1});
    const at::Tensor m = kernels::matmul(q.permute({0, 2, 1, 3}), basis_heads).permute({0, 2, 1, 3}).contiguous();
    kernels::matmul_into(s.view({B, R * H, N}), m.view({B, R * H, n}), x.coeffs, 1.0);
  }
  return s;
}

// Prompt tokens q_in (B×R×C) attending to their prompt's image tokens (keys X + pe, values X).
at::Tensor attend_to_image(const Attention& att, const FactoredTransformer::ImageSide& side,
                           const FactoredImageTokens& x, const at::Tensor& q_in) {
  const int64_t B = q_in.size(0), R = q_in.size(1), H = att.heads, I = att.q_proj.out_features(), d = I / H;
  const int64_t N = side.keys.size(2);
  const at::Tensor q = split_heads(att.q_proj(q_in), H).mul(1.0 / std::sqrt(static_cast<double>(d)));
  // The key bias adds the same score to every image token, which the softmax drops.
  at::Tensor p = scores_against_image(q, side.keys, side.keys_pe, x, att.k_proj.weight).contiguous();
  kernels::softmax_last_dim_(p);
  // The weights against the coefficients first, while p is still unscaled: as D·pᵀ, which runs
  // about twice as fast here as p·Dᵀ (the same product, K = N either way).
  at::Tensor pd;
  if (x.coeffs.defined()) {
    const int64_t n = x.basis.size(1);
    pd = kernels::matmul(x.coeffs, p.view({B, R * H, N}).transpose(1, 2)).transpose(1, 2).contiguous().view({B, R, H, n});
  }
  if (x.scale.defined()) p.mul_(x.scale.view({B, 1, 1, N}));
  const at::Tensor out = times_shared(p, side.values);
  if (pd.defined()) {
    const at::Tensor basis_values = split_heads(kernels::linear(x.basis, att.v_proj.weight, at::Tensor()), H);  // B×n×H×d
    kernels::matmul_into(out.permute({0, 2, 1, 3}), pd.permute({0, 2, 1, 3}), basis_values.permute({0, 2, 1, 3}), 1.0);
  }
  // The weights sum to 1, so the value bias passes through as it is.
  at::Tensor mixed = out.view({B, R, I});
  if (att.v_proj.bias.defined()) mixed.add_(att.v_proj.bias);
  return att.out_proj(mixed);
}

// x (B×T×H×X) → out (B×(H·(T−1)+1)×X): x[:, t, h] − x[:, T−1, h] for t < T−1, then Σₕ x[:, T−1, h].
void last_out_of_the_others(const at::Tensor& x, const at::Tensor& out) {
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), X = x.size(3), HD = H * (T - 1);
  at::Tensor differences = out.slice(1, 0, HD).view({B, T - 1, H, X});
  at::sub_out(differences, x.slice(1, 0, T - 1), x.slice(1, T - 1, T));
  at::Tensor common = out.select(1, HD);
  at::sum_out(common, x.select(1, T - 1), 1);
}

// Every prompt's image tokens attending to its prompt tokens (queries X + pe, keys k_in and
// values v_in, B×T×C), added to the tokens and normalised by the block's norm4: x becomes the
// next layer's tokens. `values` collects each layer's value vectors, B×T×H×d.
void attend_from_image(const TwoWayBlock& block, const FactoredTransformer::LayerSide& side, FactoredImageTokens& x,
                       std::vector<at::Tensor>& values, const at::Tensor& k_in, const at::Tensor& v_in) {
  const Attention& att = block.image_to_token;
  const int64_t B = k_in.size(0), T = k_in.size(1), C = k_in.size(2), H = att.heads;
  const int64_t d = att.q_proj.out_features() / H, N = side.from_image.size(2), HD = H * (T - 1);
  const at::Tensor k = split_heads(att.k_proj(k_in), H).mul(1.0 / std::sqrt(static_cast<double>(d)));
  const at::Tensor weights = scores_against_image(k, side.from_image, side.from_image_pe, x, att.q_proj.weight);
  kernels::softmax_across_rows_(weights.view({B, T, H * N}));  // over the prompt tokens, per head and image token
  // Each head's values through its slice of the output projection (B×T×H×C) give the new basis
  // vectors. A head's weights over the T prompt tokens sum to 1, so its last token's vector comes
  // out of the mix: Σₜ Aₜ·vₜ = v_last + Σ_{t<last} Aₜ·(vₜ − v_last). The basis gets the H·(T−1)
  // differences, with the weights of the other tokens as coefficients, and one vector common to
  // every image token (the heads' last vectors plus the output bias), with coefficient 1.
  const at::Tensor v = split_heads(att.v_proj(v_in), H);
  values.push_back(v);
  const at::Tensor vo = times_shared(v, att.out_proj.weight.view({C, H, d}).permute({1, 2, 0}));
  const at::Tensor new_basis = at::empty({B, HD + 1, C}, vo.options());
  last_out_of_the_others(vo, new_basis);
  if (att.out_proj.bias.defined()) new_basis.select(1, HD).add_(att.out_proj.bias);

  // The tokens plus the attention: coefficients f (B×n×N) on the basis w (B×n×C).
  const at::Tensor w = x.basis.defined() ? at::cat({x.basis, new_basis}, 1) : new_basis;
  // The coefficients so far, then the weights of the first T−1 tokens, then 1 for the common vector.
  const int64_t n_old = x.coeffs.defined() ? x.coeffs.size(1) : 0;
  const at::Tensor f = at::empty({B, n_old + HD + 1, N}, weights.options());
  if (n_old) f.slice(1, 0, n_old).copy_(x.coeffs);
  f.slice(1, n_old, n_old + HD).copy_(weights.view({B, T * H, N}).slice(1, 0, HD));
  f.select(1, n_old + HD).fill_(1.0);
  const int64_t n = w.size(1);
  const FactoredTransformer::NormSide& shared = side.norm;
  // Row statistics of the tokens, with G the Gram matrix of the centred basis and e the dot
  // products of Z's centred rows with every basis vector (B×n×N):
  //   mean = a·mean(Z) + f·mean(w)      |x − mean|² = a²·|Z − mean(Z)|² + Σₖ f·(G·f + 2a·e)
  const at::Tensor w_mean = w.mean(-1);
  const at::Tensor wc = w - w_mean.unsqueeze(-1);
  const at::Tensor gram = kernels::matmul(wc, wc.transpose(1, 2));
  const at::Tensor mean = kernels::matmul(w_mean.unsqueeze(1), f).squeeze(1);  // B×N
  at::Tensor sq_terms = kernels::matmul(gram, f);
  // 2a·e is added group by group, straight from the small per-prompt factors: e itself, a
  // B×n×N array, is never made.
  const at::Tensor twice_scale = x.scale.defined() ? x.scale.mul(2.0).unsqueeze(1) : at::Tensor();  // B×1×N
  auto add_e = [&](int64_t row, const at::Tensor& part) {  // part: B×rows×N, or N for every prompt
    const at::Tensor rows = sq_terms.slice(1, row, row + (part.dim() == 3 ? part.size(1) : 1));
    if (twice_scale.defined()) rows.addcmul_(part, twice_scale, 1.0);
    else rows.add_(part, 2.0);
  };
  int64_t row = 0;
  for (size_t g = 0; g < shared.group_offset.size(); ++g) {
    if (shared.group_proj[g].defined()) {
      // The same differences and common vector as the basis, by linearity taken on the values
      // before the projection; the output bias is in the common vector alone.
      const at::Tensor v = values[size_t(shared.group_layer[g])];  // B×T×H×d
      const at::Tensor& proj = shared.group_proj[g];              // H×d×N
      const at::Tensor last = v.slice(1, T - 1, T);
      add_e(row, times_shared(v.slice(1, 0, T - 1) - last, proj).view({B, HD, N}));
      const at::Tensor common = kernels::matmul(last.reshape({B, H * d}), proj.view({H * d, N})).add_(shared.group_offset[g]);
      add_e(row + HD, common.unsqueeze(1));
      row += HD + 1;
    } else {
      add_e(row, shared.group_offset[g]);
      row += 1;
    }
  }
  if (x.scale.defined()) mean.add_(x.scale * shared.mean);
  else mean.add_(shared.mean);
  at::Tensor sq = sq_terms.mul_(f).sum(1);
  sq.add_(x.scale.defined() ? x.scale * x.scale * shared.centred_sq : shared.centred_sq.expand({B, N}));
  const nn::LayerNorm& norm = block.norm4;
  // (Rounding can take a variance of nearly 0 below it.)
  const at::Tensor s = at::rsqrt(sq.clamp_min_(0.0).div_(static_cast<double>(C)).add_(norm.eps));  // B×N

  // The normalised tokens: a·s·(Z⊙γ) + Σₖ s·f·(w⊙γ) − s·mean·γ + β.
  x.scale = x.scale.defined() ? x.scale * s : s;
  at::Tensor coeffs = at::empty({B, n + 2, N}, f.options());
  at::Tensor scaled = coeffs.slice(1, 0, n), shifted = coeffs.select(1, n);
  at::mul_out(scaled, f, s.unsqueeze(1));
  at::mul_out(shifted, mean, s).neg_();
  coeffs.select(1, n + 1).fill_(1.0);
  x.coeffs = coeffs;
  x.basis = at::cat({w * norm.weight, norm.weight.expand({B, 1, C}), norm.bias.expand({B, 1, C})}, 1);
  x.z = side.next_z;
}

}  // namespace

at::Tensor FactoredImageTokens::materialize(int64_t b) const {
  at::Tensor out = scale.defined() ? z * scale[b].unsqueeze(1) : z.clone();
  if (coeffs.defined()) kernels::matmul_into(out, coeffs[b].transpose(0, 1), basis[b], 1.0);
  return out;
}

FactoredImageTokens FactoredImageTokens::prompts(const at::Tensor& index) const {
  FactoredImageTokens out;
  out.z = z;
  if (scale.defined()) out.scale = scale.index_select(0, index);
  if (coeffs.defined()) {
    out.coeffs = coeffs.index_select(0, index);
    out.basis = basis.index_select(0, index);
  }
  return out;
}

at::Tensor FactoredImageTokens::mapped_rows(int64_t b, int64_t t0, int64_t t1, const at::Tensor& z_mapped,
                                            const at::Tensor& basis_mapped, const at::Tensor& bias) const {
  const at::Tensor zm = z_mapped.slice(0, t0, t1);
  at::Tensor out;
  if (scale.defined()) {
    const at::Tensor a = scale[b].slice(0, t0, t1).unsqueeze(1);
    out = bias.defined() ? at::addcmul(bias, zm, a) : zm * a;
  } else {
    out = bias.defined() ? zm + bias : zm.clone();
  }
  if (coeffs.defined()) kernels::matmul_into(out, coeffs[b].slice(1, t0, t1).transpose(0, 1), basis_mapped, 1.0);
  return out;
}

FactoredTransformer::FactoredTransformer(const TwoWayTransformer& transformer, const at::Tensor& image,
                                         const at::Tensor& image_pe)
    : transformer_(transformer), image_(image) {
  // While Z is still the image itself (no scale, no basis), the positions fold into the
  // projections of Z.
  auto image_side = [&](const Attention& att, const at::Tensor& z, bool fold_pe) {
    ImageSide s;
    s.keys = heads_by_tokens(fold_pe ? z + image_pe : z, att.k_proj.weight, att.heads);
    if (!fold_pe) s.keys_pe = heads_by_tokens(image_pe, att.k_proj.weight, att.heads);
    s.values = tokens_by_heads(z, att.v_proj.weight, att.heads);
    return s;
  };
  const auto& blocks = transformer.layers;
  at::Tensor z = image;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const TwoWayBlock& block = blocks[i];
    const bool first = i == 0;
    LayerSide side;
    side.to_image = image_side(block.token_to_image, z, first);
    // The query bias goes with the positions' projection (or Z's, where they fold into it): it
    // is added to every image token's query whatever its scale.
    const Attention& from = block.image_to_token;
    auto with_query_bias = [&](const at::Tensor& projected) {
      const int64_t H = from.heads, d = from.q_proj.out_features() / H;
      return from.q_proj.bias.defined() ? projected + from.q_proj.bias.view({H, d, 1}) : projected;
    };
    if (first) {
      side.from_image = with_query_bias(heads_by_tokens(z + image_pe, from.q_proj.weight, from.heads));
    } else {
      side.from_image = heads_by_tokens(z, from.q_proj.weight, from.heads);
      side.from_image_pe = with_query_bias(heads_by_tokens(image_pe, from.q_proj.weight, from.heads));
    }

    // The basis at this norm: per earlier layer j its values, γ_j and β_j, each times the
    // weights of the norms after it, then this layer's values.
    NormSide& norm = side.norm;
    norm.mean = z.mean(1);
    const at::Tensor zc = z - norm.mean.unsqueeze(1);
    norm.centred_sq = (zc * zc).sum(1);
    auto centred_times_weights_from = [&](size_t layer) {
      at::Tensor g = zc;
      for (size_t l = layer; l < i; ++l) g = g * blocks[l].norm4.weight;
      return g;
    };
    auto add_values = [&](size_t layer) {
      const at::Tensor zg = centred_times_weights_from(layer);
      const Attention& a = blocks[layer].image_to_token;
      // zg·W_o, per head: the values' head slices pulled back through the output projection.
      norm.group_proj.push_back(heads_by_tokens(zg, a.out_proj.weight.t(), a.heads));
      norm.group_offset.push_back(row_dots(zg, a.out_proj.bias));
      norm.group_layer.push_back(static_cast<int>(layer));
    };
    auto add_vector = [&](const at::Tensor& zg, const at::Tensor& v) {
      norm.group_proj.emplace_back();
      norm.group_offset.push_back(row_dots(zg, v));
      norm.group_layer.push_back(-1);
    };
    for (size_t j = 0; j < i; ++j) {
      add_values(j);
      const at::Tensor zg = centred_times_weights_from(j + 1);
      add_vector(zg, blocks[j].norm4.weight);
      add_vector(zg, blocks[j].norm4.bias);
    }
    add_values(i);
    z = z * block.norm4.weight;
    side.next_z = z;
    layers_.push_back(std::move(side));
  }
  final_ = image_side(transformer.final_attn, z, blocks.empty());
}

std::pair<at::Tensor, FactoredImageTokens> FactoredTransformer::run_layers(const at::Tensor& tokens) const {
  FactoredImageTokens x;
  x.z = image_;
  at::Tensor queries = tokens;
  std::vector<at::Tensor> values;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const TwoWayBlock& block = transformer_.layers[i];
    block.attend_among_tokens(queries, tokens);
    queries = block.norm2(queries + attend_to_image(block.token_to_image, layers_[i].to_image, x, queries + tokens));
    block.mlp(queries);
    attend_from_image(block, layers_[i], x, values, queries + tokens, queries);
  }
  return {queries, x};
}

at::Tensor FactoredTransformer::final_tokens(const at::Tensor& queries, const at::Tensor& tokens,
                                             const FactoredImageTokens& x, const std::vector<int64_t>& outputs) const {
  // The final attention and norm treat each token on its own: only the wanted ones are computed.
  const at::Tensor wanted = select_tokens(queries, outputs);
  const at::Tensor q = wanted + select_tokens(tokens, outputs);
  return transformer_.norm_final(wanted + attend_to_image(transformer_.final_attn, final_, x, q));
}

std::pair<at::Tensor, FactoredImageTokens> FactoredTransformer::forward(const at::Tensor& tokens,
                                                                        const std::vector<int64_t>& outputs) const {
  auto [queries, x] = run_layers(tokens);
  return {final_tokens(queries, tokens, x, outputs), x};
}

}  // namespace segkit::sam
