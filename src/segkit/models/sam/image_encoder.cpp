#include "models/sam/image_encoder.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/upsample_linear1d.h>

#include <algorithm>
#include <cmath>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_fused.h"
#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/matmul.h"
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
  const auto on = rel_pos.options().dtype(at::kFloat);  // the table's device
  at::Tensor q_coords = at::arange(q_size, on).unsqueeze(1) * q_scale;
  at::Tensor k_coords = at::arange(k_size, on).unsqueeze(0) * k_scale;
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
  // The crop stays a view: the residual add that follows reads it in place.
  if (hp > H || wp > W) x = x.slice(1, 0, H).slice(2, 0, W);
  return x;
}

// The block's relative-position tables for a kh×kw window (get_rel_pos, in `type`); undefined
// when the block has none.
void rel_pos_tables(const EncoderBlock& block, int64_t kh, int64_t kw, at::ScalarType type, at::Tensor& Rh, at::Tensor& Rw) {
  if (!block.rel_pos_h.defined()) return;
  Rh = get_rel_pos(kh, kh, block.rel_pos_h).to(type);
  Rw = get_rel_pos(kw, kw, block.rel_pos_w).to(type);
}

}  // namespace

namespace {
// Score elements per attention tile: 8 MB in float32, so that a tile stays in the last-level
// cache between the two products and the softmax (smaller tiles measured slower: the products
// lose more than the softmax gains).
constexpr int64_t kTileElements = int64_t(1) << 21;
}  // namespace

// Attention over tiles of queries: each tile's scores q·kᵀ·scale get the decomposed
// relative-position terms (rel_h + rel_w) added and are soft-maxed in one pass per row, in
// place, then multiplied by v straight into the heads' slots of the output. No full N×N score,
// bias or probability matrix is ever allocated (gigabytes per global block upstream), and q, k
// and v are read in place from the qkv projection, without per-head copies.
at::Tensor EncoderBlock::attention(const at::Tensor& x) const {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), N = H * W;
  const int64_t dim = qkv.out_features() / 3, head_dim = dim / heads;
  // B×heads×N×head_dim views, rows 3·dim apart.
  at::Tensor t = qkv(x).view({B, N, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  at::Tensor q = t[0], k = t[1], v = t[2];
  at::Tensor kT = k.transpose(2, 3);
  if (!kernels::matmul_reads_views_in_place(q.scalar_type())) {
    // ATen's products copy strided operands on every call, here once per query tile: laying
    // out q, kᵀ and v once per block is far cheaper.
    q = q.contiguous();
    kT = kT.contiguous();
    v = v.contiguous();
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  at::Tensor Rh, Rw;  // H×H×head_dim and W×W×head_dim
  rel_pos_tables(*this, H, W, q.scalar_type(), Rh, Rw);
  at::Tensor out = at::empty({B, H, W, heads, head_dim}, q.options());
  at::Tensor out_heads = out.view({B, N, heads, head_dim}).permute({0, 2, 1, 3});  // B×heads×N×head_dim
  at::Tensor rel_h, rel_w;  // B×heads×H×W×H and B×heads×H×W×W
  if (Rh.defined()) {
    const at::Tensor q5 = q.unflatten(2, {H, W});
    // rel_h[b, n, y, x, :] = q[b, n, y, x, :]·Rh[y]ᵀ: one product per (b, n, y) over the x rows.
    rel_h = at::empty({B, heads, H, W, H}, q.options());
    kernels::matmul_into(rel_h, q5, Rh.transpose(1, 2).expand({B, heads, H, head_dim, H}));
    // rel_w[b, n, y, x, :] = q[b, n, y, x, :]·Rw[x]ᵀ: one product per (b, n, x) over the y rows.
    rel_w = at::empty({B, heads, H, W, W}, q.options());
    kernels::matmul_into(rel_w.transpose(2, 3), q5.transpose(2, 3), Rw.transpose(1, 2).expand({B, heads, W, head_dim, W}));
  }
  if (!kernels::hand_written_path({&q})) {
    // Off the CPU: one attention call with the relative terms as its additive bias (a GPU's
    // flash or memory-efficient kernel).
    at::Tensor bias;
    if (rel_h.defined()) bias = (rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).view({B, heads, N, N});
    out_heads.copy_(kernels::aten_attention(q, kT.transpose(2, 3), v, bias, scale));
    return proj(out.view({B, H, W, dim}));
  }
  // Tile = nb images × nh heads × nr query rows (whole heads and images only when the rows of
  // one head already fit).
  const int64_t nr = std::clamp<int64_t>(kTileElements / (W * N), 1, H);
  const int64_t nh = nr == H ? std::clamp<int64_t>(kTileElements / (N * N), 1, heads) : 1;
  const int64_t nb = nh == heads ? std::clamp<int64_t>(kTileElements / (heads * N * N), 1, B) : 1;
  at::Tensor buffer = at::empty({nb * nh * nr * W * N}, q.options());
  for (int64_t b0 = 0; b0 < B; b0 += nb) {
    const int64_t bn = std::min(nb, B - b0);
    for (int64_t h0 = 0; h0 < heads; h0 += nh) {
      const int64_t hn = std::min(nh, heads - h0);
      for (int64_t y0 = 0; y0 < H; y0 += nr) {
        const int64_t yn = std::min(nr, H - y0), T = yn * W;
        auto tile = [&](const at::Tensor& a) { return a.slice(0, b0, b0 + bn).slice(1, h0, h0 + hn); };
        at::Tensor scores = buffer.slice(0, 0, bn * hn * T * N).view({bn, hn, T, N});
        kernels::matmul_into(scores, tile(q).slice(2, y0 * W, y0 * W + T), tile(kT), 0.0, scale);
        at::Tensor tile_h, tile_w;  // (bn·hn)×T×H and (bn·hn)×T×W: views (whole heads when bn > 1)
        if (rel_h.defined()) {
          tile_h = tile(rel_h).slice(2, y0, y0 + yn).reshape({bn * hn, T, H});
          tile_w = tile(rel_w).slice(2, y0, y0 + yn).reshape({bn * hn, T, W});
        }
        kernels::add_rel_pos_softmax_(scores.view({bn * hn, T, N}), tile_h, tile_w);
        kernels::matmul_into(tile(out_heads).slice(2, y0 * W, y0 * W + T), scores, tile(v));
      }
    }
  }
  return proj(out.view({B, H, W, dim}));
}

bool EncoderBlock::runs_fused_attention(at::ScalarType compute, const at::Device& device) const {
  return kernels::fused_attention_supported(compute, qkv.out_features() / 3 / heads, device);
}

// The fused kernel takes the windows straight from the unpadded grid's projection (padding
// tokens are the bias, as upstream's zero-padded tokens project to): no partition copies, and
// the linears run on H·W tokens instead of the padded grid's.
at::Tensor EncoderBlock::fused_attention(const at::Tensor& x) const {
  const int64_t H = x.size(1), W = x.size(2), dim = qkv.out_features() / 3, head_dim = dim / heads;
  const int64_t kh = window > 0 ? window : H, kw = window > 0 ? window : W;
  at::Tensor Rh, Rw;
  rel_pos_tables(*this, kh, kw, x.scalar_type(), Rh, Rw);
  at::Tensor out = at::empty({x.size(0), H, W, dim}, x.options());
  kernels::fused_attention(qkv(x), qkv.bias, heads, window, Rh, Rw, 1.0 / std::sqrt(static_cast<double>(head_dim)), out);
  return proj(out);
}

at::Tensor EncoderBlock::tiled_attention(const at::Tensor& x) const {
  if (window <= 0) return attention(x);
  int64_t hp = 0, wp = 0;  // set by window_partition, so in a statement of its own
  const at::Tensor windows = window_partition(x, window, hp, wp);
  return window_unpartition(attention(windows), window, hp, wp, x.size(1), x.size(2));
}

at::Tensor EncoderBlock::forward(const at::Tensor& x, at::ScalarType compute) const {
  at::Tensor h = norm1(x, compute);
  h = runs_fused_attention(compute, h.device()) ? fused_attention(h) : tiled_attention(h);
  at::Tensor y = x + h;  // float32
  lin2.accumulate(y, lin1.gelu(norm2(y, compute)));
  return y;
}

ImageEncoder ImageEncoder::load(const nn::WeightMap& w, const SamConfig& c) {
  ImageEncoder e;
  const int64_t C = c.encoder_dim, g = c.embedding_size();
  e.patch_embed = nn::Conv2d::load(w, "image_encoder.patch_embed.proj", true, c.patch_size, 0);
  if (e.patch_embed.weight.sizes() != at::IntArrayRef({C, 3, c.patch_size, c.patch_size}))
    w.get("image_encoder.patch_embed.proj.weight", {C, 3, c.patch_size, c.patch_size});
  e.pos_embed = w.get("image_encoder.pos_embed", {1, g, g, C});
  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string p = "image_encoder.blocks." + std::to_string(i);
    EncoderBlock b;
    b.norm1 = nn::LayerNorm::load(w, p + ".norm1", 1e-6);
    b.norm2 = nn::LayerNorm::load(w, p + ".norm2", 1e-6);
    b.qkv = nn::Linear::load(w, p + ".attn.qkv");
    b.proj = nn::Linear::load(w, p + ".attn.proj");
    b.lin1 = nn::Linear::load(w, p + ".mlp.lin1");
    b.lin2 = nn::Linear::load(w, p + ".mlp.lin2");
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
  e.neck_conv1 = nn::Conv2d::load(w, "image_encoder.neck.0", false, 1, 0);
  w.get("image_encoder.neck.0.weight", {c.out_chans, C, 1, 1});
  e.neck_norm1 = nn::LayerNorm2d::load(w, "image_encoder.neck.1");
  e.neck_conv2 = nn::Conv2d::load(w, "image_encoder.neck.2", false, 1, 1);
  w.get("image_encoder.neck.2.weight", {c.out_chans, c.out_chans, 3, 3});
  e.neck_norm2 = nn::LayerNorm2d::load(w, "image_encoder.neck.3");
  return e;
}

void ImageEncoder::use_bfloat16() {
  const int64_t tokens = pos_embed.size(1) * pos_embed.size(2);  // the rows of every block's linears
  for (auto& b : blocks)
    for (nn::Linear* l : {&b.qkv, &b.proj, &b.lin1, &b.lin2}) l->use_bfloat16(tokens);
  compute = at::kBFloat16;
}

// The patch embedding, B×g×g×C (channels last, as the blocks take it). Its convolution's kernel
// is its stride, so it is one product of the image's patches (C_in·p·p values each) with the
// kernel, which writes the blocks' layout directly; the convolution wrote channels first, and
// laying that out took another pass as long as the product.
at::Tensor ImageEncoder::embed_patches(const at::Tensor& input) const {
  const at::Tensor& w = patch_embed.weight;  // C×C_in×p×p
  const int64_t p = w.size(2), B = input.size(0), channels = input.size(1), H = input.size(2), W = input.size(3);
  if (patch_embed.stride != p || patch_embed.padding != 0 || w.size(3) != p || H % p != 0 || W % p != 0)
    return patch_embed(input).permute({0, 2, 3, 1}).contiguous();
  const at::Tensor patches =
      input.view({B, channels, H / p, p, W / p, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, H / p, W / p, -1});
  return kernels::linear(patches, w.view({w.size(0), -1}), patch_embed.bias);
}

at::Tensor ImageEncoder::forward(const at::Tensor& input, const ActivationTap& tap) const {
  at::Tensor x = embed_patches(input);
  if (tap) tap("patch_embed", x.clone());  // a copy: the position embedding is added in place
  x.add_(pos_embed);
  for (size_t i = 0; i < blocks.size(); ++i) {
    x = blocks[i].forward(x, compute);
    if (tap) tap("block" + std::to_string(i), x);
  }
  x = x.permute({0, 3, 1, 2});
  x = neck_norm2(neck_conv2(neck_norm1(neck_conv1(x))));
  if (tap) tap("neck", x);
  return x;
}

}  // namespace segkit::sam
