#include "models/mask2former/swin.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Optional.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/add_rows.h"
#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/window_attention.h"
#include "models/device.h"

namespace segkit::mask2former {

namespace {

constexpr int64_t kMlpRows = 8192;           // rows of the MLP per band (see block)
constexpr int64_t kAttentionTokens = 8192;  // tokens of the window attention per band, at least

// For query (hi, wi) and key (hj, wj) of one window: row (hi−hj+ws−1)·(2ws−1) + (wi−wj+ws−1).
at::Tensor relative_position_index(int64_t ws) {
  at::Tensor index = at::empty({ws * ws * ws * ws}, at::kLong);
  int64_t* p = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < ws * ws; ++i)
    for (int64_t j = 0; j < ws * ws; ++j)
      *p++ = (i / ws - j / ws + ws - 1) * (2 * ws - 1) + (i % ws - j % ws + ws - 1);
  return index;
}

// The shifted windows' mask on the padded map: tokens that came from different regions before
// the cyclic shift must not attend to each other (−100 before the softmax, as transformers).
at::Tensor shift_mask(int64_t hp, int64_t wp, int64_t ws, int64_t shift) {
  auto region = [&](int64_t t, int64_t n) { return (t >= n - ws ? 1 : 0) + (t >= n - shift ? 1 : 0); };
  const int64_t nh = hp / ws, nw = wp / ws, n = ws * ws;
  at::Tensor mask = at::zeros({nh * nw, n, n}, at::kFloat);
  float* m = mask.data_ptr<float>();
  std::vector<int> label(n);
  for (int64_t wy = 0; wy < nh; ++wy)
    for (int64_t wx = 0; wx < nw; ++wx) {
      for (int64_t t = 0; t < n; ++t) label[t] = 3 * region(wy * ws + t / ws, hp) + region(wx * ws + t % ws, wp);
      float* mw = m + (wy * nw + wx) * n * n;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) mw[i * n + j] = label[i] == label[j] ? 0.0f : -100.0f;
    }
  return mask;
}

// The row of the B·H·W tokens each window position reads: windows row-major per image, tokens
// row-major inside, over the map padded to whole windows and rolled by −shift (position p
// reads (p + shift) mod the padded size); −1 where that is padding.
at::Tensor window_token_rows(int64_t batch, int64_t height, int64_t width, int64_t ws, int64_t shift) {
  const int64_t hp = (height + ws - 1) / ws * ws, wp = (width + ws - 1) / ws * ws;
  at::Tensor rows = at::empty({batch * hp * wp}, at::kLong);
  int64_t* p = rows.data_ptr<int64_t>();
  for (int64_t image = 0; image < batch; ++image)
    for (int64_t wy = 0; wy < hp; wy += ws)
      for (int64_t wx = 0; wx < wp; wx += ws)
        for (int64_t ty = 0; ty < ws; ++ty)
          for (int64_t tx = 0; tx < ws; ++tx) {
            const int64_t y = (wy + ty + shift) % hp, xx = (wx + tx + shift) % wp;
            *p++ = y < height && xx < width ? (image * height + y) * width + xx : -1;
          }
  return rows;
}

// Patch merging's sources: per token of the halved map (row-major per image), the rows of the
// B·H·W tokens of its 2×2 neighbourhood in transformers' channel order, (0,0), (1,0), (0,1),
// (1,1) as (row, column); −1 past an odd edge (padding).
at::Tensor merge_token_rows(int64_t batch, int64_t height, int64_t width) {
  const int64_t h2 = (height + 1) / 2, w2 = (width + 1) / 2;
  at::Tensor rows = at::empty({batch * h2 * w2, 4}, at::kLong);
  int64_t* p = rows.data_ptr<int64_t>();
  for (int64_t image = 0; image < batch; ++image)
    for (int64_t i = 0; i < h2; ++i)
      for (int64_t j = 0; j < w2; ++j)
        for (const auto& [dy, dx] : {std::pair<int64_t, int64_t>{0, 0}, {1, 0}, {0, 1}, {1, 1}}) {
          const int64_t y = 2 * i + dy, x = 2 * j + dx;
          *p++ = y < height && x < width ? (image * height + y) * width + x : -1;
        }
  return rows;
}

}  // namespace

SwinBackbone SwinBackbone::load(const nn::WeightMap& w, const std::string& prefix, const Mask2FormerConfig& c) {
  SwinBackbone s;
  s.window_ = c.window_size;
  s.patch_ = c.patch_size;
  s.patch_embed_ = nn::Conv2d::load(w, prefix + "embeddings.patch_embeddings.projection", true, c.patch_size, 0);
  // Made on the host, gathered where the weights are.
  const at::Tensor relative_index = models::to_device(relative_position_index(s.window_), s.patch_embed_.weight.device());
  s.embed_norm_ = nn::LayerNorm::load(w, prefix + "embeddings.norm", c.layer_norm_eps);
  for (size_t si = 0; si < c.depths.size(); ++si) {
    SwinStage stage;
    const std::string sp = prefix + "encoder.layers." + std::to_string(si) + ".";
    for (int bi = 0; bi < c.depths[si]; ++bi) {
      const std::string bp = sp + "blocks." + std::to_string(bi) + ".";
      SwinBlock b;
      b.heads = c.num_heads[si];
      b.norm_before = nn::LayerNorm::load(w, bp + "layernorm_before", c.layer_norm_eps);
      b.norm_after = nn::LayerNorm::load(w, bp + "layernorm_after", c.layer_norm_eps);
      // q, k and v as one product: the windows are read once.
      const nn::Linear q = nn::Linear::load(w, bp + "attention.self.query"), k = nn::Linear::load(w, bp + "attention.self.key"),
                       v = nn::Linear::load(w, bp + "attention.self.value");
      b.qkv.weight = at::cat({q.weight, k.weight, v.weight}, 0);
      b.qkv.bias = at::cat({q.bias, k.bias, v.bias}, 0);
      b.output = nn::Linear::load(w, bp + "attention.output.dense");
      b.fc1 = nn::Linear::load(w, bp + "intermediate.dense");
      b.fc2 = nn::Linear::load(w, bp + "output.dense");
      // The bias of each head for every (query, key) pair of a window, gathered once.
      const int64_t n = c.window_size * c.window_size;
      b.relative_position_bias = at::index_select(w.get(bp + "attention.self.relative_position_bias_table"), 0, relative_index)
                                     .view({n, n, b.heads})
                                     .permute({2, 0, 1})
                                     .contiguous();
      stage.blocks.push_back(std::move(b));
    }
    if (si + 1 < c.depths.size()) {
      stage.merge_norm = nn::LayerNorm::load(w, sp + "downsample.norm", c.layer_norm_eps);
      stage.merge_reduction = nn::Linear::load(w, sp + "downsample.reduction", false);
    }
    stage.output_norm = nn::LayerNorm::load(w, prefix + "hidden_states_norms.stage" + std::to_string(si + 1), c.layer_norm_eps);
    s.stages_.push_back(std::move(stage));
  }
  return s;
}

void SwinBackbone::add_window_attention_(const SwinBlock& b, const at::Tensor& x, int64_t height, int64_t width,
                                         const at::Tensor& mask) const {
  const int64_t batch = x.size(0), channels = x.size(2), ws = window_, shift = mask.defined() ? ws / 2 : 0;
  const int64_t hp = (height + ws - 1) / ws * ws, wp = (width + ws - 1) / ws * ws;
  const int64_t nh = hp / ws, nw = wp / ws, n = ws * ws, heads = b.heads, dh = channels / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  const at::Tensor tokens = x.view({-1, channels});
  // The token each window position reads (made on the host, used where x is).
  const at::Tensor sources = models::to_device(window_token_rows(batch, height, width, ws, shift), x.device());
  // A band of window rows at a time, so that q/k/v, scores and probabilities stay small (all
  // windows of the first stage at 800×1216 at once: 270 MB).
  const int64_t band_rows = std::max<int64_t>(1, kAttentionTokens / (n * nw));
  for (int64_t image = 0; image < batch; ++image)
    for (int64_t r0 = 0; r0 < nh; r0 += band_rows) {
      const int64_t rows = std::min(band_rows, nh - r0);
      const at::Tensor band = sources.narrow(0, (image * nh + r0) * nw * n, rows * nw * n);
      // (rows·nw) × ws² × C, windows row-major, tokens row-major inside: the tokens normed and
      // gathered in one pass, padding zeros (transformers pads after the norm).
      const at::Tensor windows = kernels::layer_norm_rows(tokens, band, b.norm_before.weight, b.norm_before.bias,
                                                          b.norm_before.eps, compute_)
                                     .view({-1, n, channels});
      // (windows) × n × 3C: q, k and v of each head side by side.
      const at::Tensor qkv = b.qkv(windows).view({-1, n, 3, heads, dh});
      // windows × n × C, heads side by side.
      at::Tensor heads_out;
      if (kernels::window_attention_supports(qkv)) {
        heads_out = kernels::window_attention(qkv, scale, b.relative_position_bias,
                                              shift ? mask.narrow(0, r0 * nw, rows * nw) : at::Tensor());
      } else {
        const at::Tensor split = qkv.permute({2, 0, 3, 1, 4});  // three views windows × heads × n × dh
        const at::Tensor q = split[0], k = split[1], v = split[2];
        if (!kernels::hand_written_path({&q})) {
          // Off the CPU: one attention call with the relative-position bias (and the shift mask)
          // as its additive bias, in the compute type.
          at::Tensor bias = b.relative_position_bias;
          if (shift) bias = bias + mask.narrow(0, r0 * nw, rows * nw).unsqueeze(1);
          heads_out = kernels::aten_attention(q, k, v, bias.to(q.scalar_type()), scale);
        } else {
          // In bfloat16 the scores are rounded once after the product; bias, mask and softmax are float32.
          at::Tensor scores = compute_ == at::kFloat ? kernels::matmul(q, k.transpose(-2, -1), scale)
                                                     : at::matmul(q, k.transpose(-2, -1)).to(at::kFloat).mul_(scale);
          kernels::add_bias_softmax_(scores, b.relative_position_bias,
                                     shift ? mask.narrow(0, r0 * nw, rows * nw) : at::Tensor());
          const at::Tensor& probabilities = scores;
          heads_out = compute_ == at::kFloat ? kernels::matmul(probabilities, v) : at::matmul(probabilities.to(compute_), v);
        }
        heads_out = heads_out.transpose(1, 2).reshape({-1, n, channels});
      }
      // Back to the tokens they came from (the shift undone, the padding dropped), added to x.
      kernels::add_rows_(tokens, band, b.output(heads_out).view({-1, channels}));
    }
}

void SwinBackbone::block_(const SwinBlock& b, const at::Tensor& x, int64_t height, int64_t width,
                          const at::Tensor& mask) const {
  add_window_attention_(b, x, height, width, mask);
  // x += mlp(x), bias and GELU fused, a band of rows at a time: the hidden layer (4C wide) never
  // exists whole (93 MB in the first stage at 800×1216).
  const at::Tensor rows = x.view({-1, x.size(2)});
  for (int64_t r = 0; r < rows.size(0); r += kMlpRows) {
    const at::Tensor band = rows.narrow(0, r, std::min(kMlpRows, rows.size(0) - r));
    b.fc2.accumulate(band, b.fc1.gelu(b.norm_after(band, compute_)));
  }
}

void SwinBackbone::prepare_products(at::ScalarType type, int64_t tokens) {
  // Float32 in both precisions: 48 inputs per token, the product is small beside the passes.
  if (!patch_projection_.packed) {
    patch_projection_ = nn::Linear::of_convolution(patch_embed_);
    patch_projection_.pack(tokens);
  }
  for (SwinStage& stage : stages_) {
    for (SwinBlock& b : stage.blocks)
      for (nn::Linear* l : {&b.qkv, &b.output, &b.fc1, &b.fc2}) l->prepare(type, tokens);
    tokens /= 4;  // patch merging halves both sides
    if (stage.merge_norm.weight.defined()) stage.merge_reduction.prepare(type, tokens);
  }
  compute_ = type;
}

std::vector<at::Tensor> SwinBackbone::operator()(const at::Tensor& pixel_values) const {
  at::Tensor input = pixel_values;
  const int64_t pad_h = (patch_ - input.size(2) % patch_) % patch_, pad_w = (patch_ - input.size(3) % patch_) % patch_;
  if (pad_h || pad_w) input = at::constant_pad_nd(input, {0, pad_w, 0, pad_h});
  const int64_t batch = input.size(0);
  int64_t height = input.size(2) / patch_, width = input.size(3) / patch_, channels = patch_embed_.weight.size(0);
  // The residual stream, updated in place by the blocks.
  at::Tensor x;
  if (patch_projection_.packed) {
    // Each patch's pixels as a row (channel, row, column, the convolution's weight order): one
    // product writes the tokens row-major, normed in place.
    const at::Tensor patches = input.contiguous()
                                   .view({batch, input.size(1), height, patch_, width, patch_})
                                   .permute({0, 2, 4, 1, 3, 5})
                                   .reshape({batch, height * width, -1});
    x = patch_projection_(patches);
    kernels::layer_norm_(x, embed_norm_.weight, embed_norm_.bias, embed_norm_.eps);
  } else {
    x = embed_norm_(patch_embed_(input).flatten(2).transpose(1, 2)).contiguous();
  }
  std::vector<at::Tensor> features;
  for (const SwinStage& stage : stages_) {
    // Odd blocks shift their windows; their mask depends only on the stage's padded size.
    const int64_t hp = (height + window_ - 1) / window_ * window_, wp = (width + window_ - 1) / window_ * window_;
    const at::Tensor mask =
        stage.blocks.size() > 1 ? models::to_device(shift_mask(hp, wp, window_, window_ / 2), x.device()) : at::Tensor();
    for (size_t i = 0; i < stage.blocks.size(); ++i) block_(stage.blocks[i], x, height, width, i % 2 ? mask : at::Tensor());
    // Channels-last, as the norm writes it: the pixel decoder's 1×1 convolutions read it in place.
    features.push_back(stage.output_norm(x, at::kFloat).view({batch, height, width, channels}).permute({0, 3, 1, 2}));
    if (!stage.merge_norm.weight.defined()) break;
    // The 2×2 neighbourhoods side by side, normed, in one pass (no padded copy, no concatenation).
    const at::Tensor sources = models::to_device(merge_token_rows(batch, height, width), x.device());
    const at::Tensor merged = kernels::layer_norm_merged_rows(x.view({-1, channels}), sources, stage.merge_norm.weight,
                                                              stage.merge_norm.bias, stage.merge_norm.eps, compute_);
    height = (height + 1) / 2;
    width = (width + 1) / 2;
    x = stage.merge_reduction.float32(merged).view({batch, height * width, 2 * channels});
    channels *= 2;
  }
  return features;
}

}  // namespace segkit::mask2former
