#include "models/sam3/vit.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_fused.h"
#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/matmul.h"
#include "nn/checked_layers.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// Score elements per attention tile (8 MB in float32): a tile of queries stays in cache between
// the two products and the softmax, and a global layer never holds its N×N scores whole.
constexpr int64_t kTileElements = int64_t(1) << 21;

std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// B × H × W × C → (B·nH·nW) × (w·w) × C: windows row-major over the window grid, pixels
// row-major inside each; zero padding up to multiples of w, as transformers pads the
// normalised tokens (the padded ones take part in the attention unmasked, there as here).
at::Tensor window_partition(const at::Tensor& x, int64_t w) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t ph = (w - H % w) % w, pw = (w - W % w) % w;
  const at::Tensor p = (ph || pw) ? at::constant_pad_nd(x, {0, 0, 0, pw, 0, ph}) : x.contiguous();
  return p.view({B, (H + ph) / w, w, (W + pw) / w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, C});
}

// The inverse, cropping the padding: B × H × W × C (a view when cropped).
at::Tensor window_unpartition(const at::Tensor& windows, int64_t w, int64_t B, int64_t H, int64_t W) {
  const int64_t Hp = (H + w - 1) / w * w, Wp = (W + w - 1) / w * w, C = windows.size(-1);
  const at::Tensor x = windows.view({B, Hp / w, Wp / w, w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, Hp, Wp, C});
  return (Hp == H && Wp == W) ? x : x.slice(1, 0, H).slice(2, 0, W);
}

}  // namespace

ViTLayer ViTLayer::load(const nn::WeightMap& w, const std::string& prefix, const ViTConfig& c, int index) {
  const std::string p = prefix + "layers." + std::to_string(index) + ".";
  const int64_t C = c.hidden_size;
  ViTLayer l;
  l.norm1 = load_layer_norm(w, p + "layer_norm1", C, c.layer_norm_eps);
  l.norm2 = load_layer_norm(w, p + "layer_norm2", C, c.layer_norm_eps);
  l.qkv = load_stacked_qkv(w, p + "attention", C);
  l.o_proj = load_linear(w, p + "attention.o_proj", C, C);
  l.fc1 = load_linear(w, p + "mlp.fc1", C, c.intermediate_size);
  l.fc2 = load_linear(w, p + "mlp.fc2", c.intermediate_size, C);
  l.heads = c.num_attention_heads;
  l.window = c.is_global(index) ? 0 : c.window_size;
  // transformers builds the table for the window, or for the whole grid in global layers,
  // with positions scaled by window / side so that both cover the same range.
  const int64_t side = l.window > 0 ? l.window : c.grid_size();
  l.rope = AxialRope::make(side, static_cast<double>(c.window_size) / static_cast<double>(side), c.head_dim(),
                           c.rope_theta);
  l.rope.to_device(l.o_proj.weight.device());
  return l;
}

void ViTLayer::prepare_products(at::ScalarType type, int64_t tokens) {
  for (nn::Linear* l : {&qkv, &o_proj, &fc1, &fc2}) l->prepare(type, tokens);
  compute = type;
}

at::Tensor ViTLayer::attention(const at::Tensor& x) const {
  const int64_t Bp = x.size(0), N = x.size(1), C = x.size(2), hd = C / heads;
  // RoPE and the attention read float32 (in bfloat16 the projection is widened once).
  at::Tensor t = (compute == at::kFloat ? qkv(x) : qkv(x).to(at::kFloat)).view({Bp, N, 3, heads, hd});
  rope.apply_(t.select(2, 0));
  rope.apply_(t.select(2, 1));
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  if (!kernels::hand_written_path({&t})) {
    // Off the CPU: one attention call over the rotated q and k (a GPU's flash or
    // memory-efficient kernel), float32 as below.
    auto heads_first = [&](int64_t part) { return t.select(2, part).transpose(1, 2); };  // B' × heads × N × hd
    const at::Tensor o = kernels::aten_attention(heads_first(0), heads_first(1), heads_first(2), at::Tensor(), scale)
                             .transpose(1, 2)
                             .reshape({Bp, N, C});
    return o_proj(compute == at::kFloat ? o : o.to(compute));
  }
  // B' × heads × N × head_dim views into the projection, no per-head copies.
  at::Tensor q = t.select(2, 0).permute({0, 2, 1, 3});
  at::Tensor kT = t.select(2, 1).permute({0, 2, 3, 1});
  at::Tensor v = t.select(2, 2).permute({0, 2, 1, 3});
  if (!kernels::matmul_reads_views_in_place(q.scalar_type())) {
    q = q.contiguous();
    kT = kT.contiguous();
    v = v.contiguous();
  }
  const auto options = x.options().dtype(at::kFloat);
  at::Tensor out = at::empty({Bp, N, heads, hd}, options);
  const at::Tensor out_heads = out.permute({0, 2, 1, 3});
  // Tile = nb windows × nh heads × nr query rows (more heads and windows only when all rows fit).
  const int64_t nr = std::clamp<int64_t>(kTileElements / N, 1, N);
  const int64_t nh = nr == N ? std::clamp<int64_t>(kTileElements / (N * N), 1, heads) : 1;
  const int64_t nb = nh == heads ? std::clamp<int64_t>(kTileElements / (heads * N * N), 1, Bp) : 1;
  at::Tensor buffer = at::empty({nb * nh * nr * N}, options);
  for (int64_t b0 = 0; b0 < Bp; b0 += nb) {
    const int64_t bn = std::min(nb, Bp - b0);
    for (int64_t h0 = 0; h0 < heads; h0 += nh) {
      const int64_t hn = std::min(nh, heads - h0);
      auto tile = [&](const at::Tensor& a) { return a.slice(0, b0, b0 + bn).slice(1, h0, h0 + hn); };
      for (int64_t r0 = 0; r0 < N; r0 += nr) {
        const int64_t rn = std::min(nr, N - r0);
        at::Tensor scores = buffer.slice(0, 0, bn * hn * rn * N).view({bn, hn, rn, N});
        kernels::matmul_into(scores, tile(q).slice(2, r0, r0 + rn), tile(kT), 0.0, scale);
        kernels::softmax_last_dim_(scores);
        kernels::matmul_into(tile(out_heads).slice(2, r0, r0 + rn), scores, tile(v));
      }
    }
  }
  return o_proj(compute == at::kFloat ? out.view({Bp, N, C}) : out.view({Bp, N, C}).to(compute));
}

at::Tensor ViTLayer::fused_attention(const at::Tensor& h) const {
  const int64_t B = h.size(0), H = h.size(1), W = h.size(2), C = h.size(3), hd = C / heads;
  // q, k and v of the whole grid; RoPE on q and k in float32, where each token sits in its window.
  const at::Tensor projected = qkv(h);
  const at::Tensor t = compute == at::kFloat ? projected : projected.to(at::kFloat);
  const at::Tensor parts = t.view({B, H, W, 3, heads, hd});
  rope.apply_grid_(parts.select(3, 0));
  rope.apply_grid_(parts.select(3, 1));
  const at::Tensor rotated = compute == at::kFloat ? t : t.to(compute);
  at::Tensor out = at::empty({B, H, W, C}, rotated.options());
  kernels::fused_attention(rotated, {}, heads, window, {}, {}, 1.0 / std::sqrt(static_cast<double>(hd)), out);
  return o_proj(out);
}

bool ViTLayer::fuses(int64_t H, int64_t W, int64_t C, const at::Device& device) const {
  const int64_t side = window > 0 ? window : H;
  return allow_fused && kernels::fused_attention_supported(compute, C / heads, device) && H % side == 0 && W % side == 0 &&
         rope.cos.size(0) == side * side && (window > 0 || H == W);
}

at::Tensor ViTLayer::operator()(const at::Tensor& x) const {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const bool fp32 = compute == at::kFloat;
  const at::Tensor h = fp32 ? norm1(x) : norm1(x, compute);
  // The fused kernel where the CPU has it and no window needs padding (transformers pads the
  // normed tokens, and RoPE turns the padding's q and k too); the products otherwise.
  const at::Tensor a = fuses(H, W, C, x.device()) ? fused_attention(h)
                       : window > 0   ? window_unpartition(attention(window_partition(h, window)), window, B, H, W)
                                      : attention(h.view({B, H * W, C})).view({B, H, W, C});
  at::Tensor y = x + a;  // float32 (a bfloat16 a is widened)
  fc2.accumulate(y, fc1.gelu(fp32 ? norm2(y) : norm2(y, compute)));
  return y;
}

ViTBackbone ViTBackbone::load(const nn::WeightMap& w, const std::string& prefix, const ViTConfig& c) {
  ViTBackbone b;
  b.config = c;
  const int64_t C = c.hidden_size, p = c.patch_size, g = c.pretrain_grid_size(), grid = c.grid_size();
  b.patch_weight = w.get(prefix + "embeddings.patch_embeddings.projection.weight", {C, c.num_channels, p, p});
  const at::Tensor table = w.get(prefix + "embeddings.position_embeddings", {1, g * g, C}).view({g, g, C});
  // Tiled, not interpolated: position (h, w) takes the table's entry (h mod g, w mod g).
  const at::Tensor index = at::arange(grid, table.options().dtype(at::kLong)).remainder(g);
  b.position_embedding = table.index_select(0, index).index_select(1, index).unsqueeze(0).contiguous();
  b.ln_pre = load_layer_norm(w, prefix + "layer_norm", C, c.layer_norm_eps);
  for (int i = 0; i < c.num_hidden_layers; ++i) b.layers.push_back(ViTLayer::load(w, prefix, c, i));
  return b;
}

void ViTBackbone::prepare_products(at::ScalarType type) {
  const int64_t tokens = int64_t(config.grid_size()) * config.grid_size();  // windows or the grid, all at once
  for (ViTLayer& layer : layers) layer.prepare_products(type, tokens);
}

at::Tensor ViTBackbone::embed(const at::Tensor& pixel_values) const {
  const int64_t side = config.image_size;
  if (pixel_values.dim() != 4 || pixel_values.size(0) < 1 || pixel_values.size(1) != config.num_channels ||
      pixel_values.size(2) != side || pixel_values.size(3) != side || pixel_values.scalar_type() != at::kFloat)
    throw Error("sam3 vision encoder: pixel values are " + shape_string(pixel_values.sizes()) + " " +
                std::string(c10::toString(pixel_values.scalar_type())) + ", expected float32 [B, 3, " +
                std::to_string(side) + ", " + std::to_string(side) + "]");
  const int64_t p = config.patch_size;
  const at::Tensor patches = at::conv2d(pixel_values, patch_weight, {}, {p, p});
  at::Tensor x = patches.permute({0, 2, 3, 1}).contiguous();
  x.add_(position_embedding);
  return x;
}

at::Tensor ViTBackbone::operator()(const at::Tensor& pixel_values, std::vector<at::Tensor>* layer_outputs) const {
  at::Tensor x = ln_pre(embed(pixel_values));
  for (const ViTLayer& layer : layers) {
    x = layer(x);
    if (layer_outputs) layer_outputs->push_back(x);
  }
  return x;
}

}  // namespace segkit::sam3
