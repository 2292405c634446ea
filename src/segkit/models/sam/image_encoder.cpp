#include "models/sam/image_encoder.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/einsum.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/upsample_linear1d.h>

#include <cmath>

#include "segkit/error.h"

namespace segkit::sam {

namespace {

// Relative position table for q_size×k_size, resized linearly if the stored table is for
// another size (upstream get_rel_pos).
at::Tensor get_rel_pos(int64_t q_size, int64_t k_size, const at::Tensor& rel_pos) {
  const int64_t max_rel_dist = 2 * std::max(q_size, k_size) - 1;
  at::Tensor table = rel_pos;
  if (rel_pos.size(0) != max_rel_dist) {
    at::Tensor t = rel_pos.reshape({1, rel_pos.size(0), -1}).permute({0, 2, 1});
    t = at::upsample_linear1d(t, {max_rel_dist}, /*align_corners=*/false);
    table = t.reshape({-1, max_rel_dist}).permute({1, 0});
  }
  const double q_scale = std::max(double(k_size) / q_size, 1.0);
  const double k_scale = std::max(double(q_size) / k_size, 1.0);
  at::Tensor q_coords = at::arange(q_size, at::kFloat).unsqueeze(1) * q_scale;
  at::Tensor k_coords = at::arange(k_size, at::kFloat).unsqueeze(0) * k_scale;
  at::Tensor rel = (q_coords - k_coords) + (k_size - 1) * k_scale;
  return table.index_select(0, rel.to(at::kLong).flatten()).view({q_size, k_size, -1});
}

// B×H×W×C → (B·nh·nw)×ws×ws×C, zero-padding H and W up to multiples of ws.
at::Tensor window_partition(const at::Tensor& x, int64_t ws, int64_t& hp, int64_t& wp) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t pad_h = (ws - H % ws) % ws, pad_w = (ws - W % ws) % ws;
  at::Tensor p = (pad_h || pad_w) ? at::constant_pad_nd(x, {0, 0, 0, pad_w, 0, pad_h}, 0) : x;
  hp = H + pad_h;
  wp = W + pad_w;
  return p.view({B, hp / ws, ws, wp / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, ws, ws, C});
}

at::Tensor window_unpartition(const at::Tensor& windows, int64_t ws, int64_t hp, int64_t wp, int64_t H, int64_t W) {
  const int64_t B = windows.size(0) / (hp * wp / ws / ws);
  at::Tensor x = windows.view({B, hp / ws, wp / ws, ws, ws, -1}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({B, hp, wp, -1});
  if (hp > H || wp > W) x = x.slice(1, 0, H).slice(2, 0, W).contiguous();
  return x;
}

}  // namespace

at::Tensor EncoderBlock::attention(const at::Tensor& x) const {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2);
  const int64_t dim = qkv.out_features() / 3, head_dim = dim / heads;
  at::Tensor t = qkv(x).reshape({B, H * W, 3, heads, head_dim}).permute({2, 0, 3, 1, 4}).reshape({3, B * heads, H * W, head_dim});
  at::Tensor q = t[0], k = t[1], v = t[2];
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  at::Tensor attn = at::matmul(q * scale, k.transpose(-2, -1));
  if (rel_pos_h.defined()) {
    at::Tensor Rh = get_rel_pos(H, H, rel_pos_h), Rw = get_rel_pos(W, W, rel_pos_w);
    at::Tensor r_q = q.reshape({B * heads, H, W, head_dim});
    at::Tensor rel_h = at::einsum("bhwc,hkc->bhwk", {r_q, Rh});
    at::Tensor rel_w = at::einsum("bhwc,wkc->bhwk", {r_q, Rw});
    attn = (attn.view({B * heads, H, W, H, W}) + rel_h.unsqueeze(4) + rel_w.unsqueeze(3)).view({B * heads, H * W, H * W});
  }
  attn = at::softmax(attn, -1);
  at::Tensor out = at::matmul(attn, v).view({B, heads, H, W, head_dim}).permute({0, 2, 3, 1, 4}).reshape({B, H, W, dim});
  return proj(out);
}

at::Tensor EncoderBlock::forward(const at::Tensor& x) const {
  at::Tensor h = norm1(x);
  if (window > 0) {
    const int64_t H = h.size(1), W = h.size(2);
    int64_t hp = 0, wp = 0;
    h = window_partition(h, window, hp, wp);
    h = attention(h);
    h = window_unpartition(h, window, hp, wp, H, W);
  } else {
    h = attention(h);
  }
  at::Tensor y = x + h;
  return y + lin2(at::gelu(lin1(norm2(y))));
}

ImageEncoder ImageEncoder::load(const WeightMap& w, const SamConfig& c) {
  ImageEncoder e;
  const int64_t C = c.encoder_dim, g = c.embedding_size();
  e.patch_embed = Conv2d::load(w, "image_encoder.patch_embed.proj", true, c.patch_size, 0);
  if (e.patch_embed.weight.sizes() != at::IntArrayRef({C, 3, c.patch_size, c.patch_size}))
    w.get("image_encoder.patch_embed.proj.weight", {C, 3, c.patch_size, c.patch_size});
  e.pos_embed = w.get("image_encoder.pos_embed", {1, g, g, C});
  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string p = "image_encoder.blocks." + std::to_string(i);
    EncoderBlock b;
    b.norm1 = LayerNorm::load(w, p + ".norm1", 1e-6);
    b.norm2 = LayerNorm::load(w, p + ".norm2", 1e-6);
    b.qkv = Linear::load(w, p + ".attn.qkv");
    b.proj = Linear::load(w, p + ".attn.proj");
    b.lin1 = Linear::load(w, p + ".mlp.lin1");
    b.lin2 = Linear::load(w, p + ".mlp.lin2");
    const bool global = std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(), i) != c.global_attn_indexes.end();
    b.window = global ? 0 : c.window_size;
    const int64_t attn_dim = b.qkv.out_features() / 3;
    if (w.contains(p + ".attn.rel_pos_h")) {
      b.rel_pos_h = w.get(p + ".attn.rel_pos_h");
      b.rel_pos_w = w.get(p + ".attn.rel_pos_w", b.rel_pos_h.sizes());
      const int64_t head_dim = b.rel_pos_h.size(1);
      if (head_dim <= 0 || attn_dim % head_dim != 0)
        fail(w.source(), "tensor '" + p + ".attn.rel_pos_h' has head size " + std::to_string(head_dim) +
                             " that does not divide the attention width " + std::to_string(attn_dim));
      b.heads = static_cast<int>(attn_dim / head_dim);
    } else {
      b.heads = c.encoder_heads;
    }
    if (b.qkv.out_features() % 3 != 0 || b.qkv.in_features() != C || b.proj.out_features() != C)
      fail(w.source(), "tensor '" + p + ".attn.qkv.weight' does not fit an encoder of width " + std::to_string(C));
    e.blocks.push_back(std::move(b));
  }
  e.neck_conv1 = Conv2d::load(w, "image_encoder.neck.0", false, 1, 0);
  w.get("image_encoder.neck.0.weight", {c.out_chans, C, 1, 1});
  e.neck_norm1 = LayerNorm2d::load(w, "image_encoder.neck.1");
  e.neck_conv2 = Conv2d::load(w, "image_encoder.neck.2", false, 1, 1);
  w.get("image_encoder.neck.2.weight", {c.out_chans, c.out_chans, 3, 3});
  e.neck_norm2 = LayerNorm2d::load(w, "image_encoder.neck.3");
  return e;
}

at::Tensor ImageEncoder::forward(const at::Tensor& input, const ActivationTap& tap) const {
  at::Tensor x = patch_embed(input).permute({0, 2, 3, 1});
  if (tap) tap("patch_embed", x);
  x = x + pos_embed;
  for (size_t i = 0; i < blocks.size(); ++i) {
    x = blocks[i].forward(x);
    if (tap) tap("block" + std::to_string(i), x);
  }
  x = x.permute({0, 3, 1, 2});
  x = neck_norm2(neck_conv2(neck_norm1(neck_conv1(x))));
  if (tap) tap("neck", x);
  return x;
}

}  // namespace segkit::sam
