#include "models/sam/mask_decoder.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/repeat_interleave.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>

#include <cmath>

#include "segkit/error.h"

namespace segkit::sam {

Attention Attention::load(const WeightMap& w, const std::string& prefix, int heads) {
  Attention a;
  a.q_proj = Linear::load(w, prefix + ".q_proj");
  a.k_proj = Linear::load(w, prefix + ".k_proj");
  a.v_proj = Linear::load(w, prefix + ".v_proj");
  a.out_proj = Linear::load(w, prefix + ".out_proj");
  a.heads = heads;
  if (a.q_proj.out_features() % heads != 0)
    fail(w.source(), "tensor '" + prefix + ".q_proj.weight' width " + std::to_string(a.q_proj.out_features()) +
                         " is not divisible by " + std::to_string(heads) + " heads");
  return a;
}

at::Tensor Attention::operator()(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const {
  auto separate = [&](const at::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
  };
  at::Tensor q = separate(q_proj(q_in)), k = separate(k_proj(k_in)), v = separate(v_proj(v_in));
  const int64_t c_per_head = q.size(3);
  at::Tensor attn = at::matmul(q, k.permute({0, 1, 3, 2}));
  attn = attn / std::sqrt(static_cast<double>(c_per_head));
  attn = at::softmax(attn, -1);
  at::Tensor out = at::matmul(attn, v).transpose(1, 2);
  out = out.reshape({out.size(0), out.size(1), -1});
  return out_proj(out);
}

void TwoWayBlock::forward(at::Tensor& queries, at::Tensor& keys, const at::Tensor& query_pe, const at::Tensor& key_pe) const {
  if (skip_first_layer_pe) {
    queries = self_attn(queries, queries, queries);
  } else {
    at::Tensor q = queries + query_pe;
    queries = queries + self_attn(q, q, queries);
  }
  queries = norm1(queries);

  at::Tensor q = queries + query_pe, k = keys + key_pe;
  queries = norm2(queries + token_to_image(q, k, keys));
  queries = norm3(queries + lin2(at::relu(lin1(queries))));

  q = queries + query_pe;
  k = keys + key_pe;
  keys = norm4(keys + image_to_token(k, q, queries));
}

TwoWayTransformer TwoWayTransformer::load(const WeightMap& w, const SamConfig& c) {
  TwoWayTransformer t;
  const std::string base = "mask_decoder.transformer.";
  // Upstream's transformer uses nn.LayerNorm's default epsilon.
  const double eps = 1e-5;
  for (int i = 0; i < c.decoder_depth; ++i) {
    const std::string p = base + "layers." + std::to_string(i);
    TwoWayBlock b;
    b.self_attn = Attention::load(w, p + ".self_attn", c.decoder_heads);
    b.token_to_image = Attention::load(w, p + ".cross_attn_token_to_image", c.decoder_heads);
    b.image_to_token = Attention::load(w, p + ".cross_attn_image_to_token", c.decoder_heads);
    b.norm1 = LayerNorm::load(w, p + ".norm1", eps);
    b.norm2 = LayerNorm::load(w, p + ".norm2", eps);
    b.norm3 = LayerNorm::load(w, p + ".norm3", eps);
    b.norm4 = LayerNorm::load(w, p + ".norm4", eps);
    b.lin1 = Linear::load(w, p + ".mlp.lin1");
    b.lin2 = Linear::load(w, p + ".mlp.lin2");
    b.skip_first_layer_pe = (i == 0);
    t.layers.push_back(std::move(b));
  }
  t.final_attn = Attention::load(w, base + "final_attn_token_to_image", c.decoder_heads);
  t.norm_final = LayerNorm::load(w, base + "norm_final_attn", eps);
  return t;
}

std::pair<at::Tensor, at::Tensor> TwoWayTransformer::forward(const at::Tensor& image, const at::Tensor& image_pe,
                                                             const at::Tensor& tokens) const {
  at::Tensor keys = image.flatten(2).permute({0, 2, 1});
  at::Tensor key_pe = image_pe.flatten(2).permute({0, 2, 1});
  at::Tensor queries = tokens;
  for (const auto& layer : layers) layer.forward(queries, keys, tokens, key_pe);
  at::Tensor q = queries + tokens, k = keys + key_pe;
  queries = norm_final(queries + final_attn(q, k, keys));
  return {queries, keys};
}

MaskDecoder MaskDecoder::load(const WeightMap& w, const SamConfig& c) {
  MaskDecoder d;
  const int64_t C = c.out_chans;
  d.transformer = TwoWayTransformer::load(w, c);
  d.iou_token = w.get("mask_decoder.iou_token.weight", {1, C});
  d.mask_tokens = w.get("mask_decoder.mask_tokens.weight", {c.num_multimask_outputs + 1, C});
  d.upscale1 = ConvTranspose2d::load(w, "mask_decoder.output_upscaling.0", 2);
  w.get("mask_decoder.output_upscaling.0.weight", {C, C / 4, 2, 2});
  d.upscale_norm = LayerNorm2d::load(w, "mask_decoder.output_upscaling.1");
  d.upscale2 = ConvTranspose2d::load(w, "mask_decoder.output_upscaling.3", 2);
  w.get("mask_decoder.output_upscaling.3.weight", {C / 4, C / 8, 2, 2});
  for (int i = 0; i < c.num_multimask_outputs + 1; ++i)
    d.hypernetworks.push_back(Mlp::load(w, "mask_decoder.output_hypernetworks_mlps." + std::to_string(i)));
  d.iou_head = Mlp::load(w, "mask_decoder.iou_prediction_head");
  return d;
}

std::pair<at::Tensor, at::Tensor> MaskDecoder::forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe,
                                                       const at::Tensor& sparse, const at::Tensor& dense, bool multimask) const {
  const int64_t B = sparse.size(0);
  at::Tensor output_tokens = at::cat({iou_token, mask_tokens}, 0).unsqueeze(0).expand({B, -1, -1});
  at::Tensor tokens = at::cat({output_tokens, sparse}, 1);
  at::Tensor src = at::repeat_interleave(image_embeddings, B, 0) + dense;
  at::Tensor pos_src = at::repeat_interleave(image_pe, B, 0);
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);

  auto [hs, image_tokens] = transformer.forward(src, pos_src, tokens);
  at::Tensor iou_token_out = hs.select(1, 0);
  const int M = num_mask_tokens();
  at::Tensor mask_tokens_out = hs.slice(1, 1, 1 + M);

  at::Tensor up = image_tokens.transpose(1, 2).reshape({B, c, h, w});
  up = at::gelu(upscale_norm(upscale1(up)));
  up = at::gelu(upscale2(up));
  std::vector<at::Tensor> hyper;
  for (int i = 0; i < M; ++i) hyper.push_back(hypernetworks[i](mask_tokens_out.select(1, i)));
  at::Tensor hyper_in = at::stack(hyper, 1);
  const int64_t uc = up.size(1), uh = up.size(2), uw = up.size(3);
  at::Tensor masks = at::matmul(hyper_in, up.view({B, uc, uh * uw})).view({B, -1, uh, uw});
  at::Tensor iou = iou_head(iou_token_out);
  if (multimask) return {masks.slice(1, 1), iou.slice(1, 1)};
  return {masks.slice(1, 0, 1), iou.slice(1, 0, 1)};
}

}  // namespace segkit::sam
