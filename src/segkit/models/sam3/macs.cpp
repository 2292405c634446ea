#include "models/sam3/macs.h"

#include <vector>

#include "text/clip_tokenizer.h"

namespace segkit::sam3 {

VisionMacs count_vision_macs(const Sam3Config& config, bool all_levels) {
  const ViTConfig& v = config.vision.backbone;
  const int64_t g = v.grid_size(), N = g * g, C = v.hidden_size, I = v.intermediate_size;
  const int64_t p = v.patch_size, fpn = config.vision.fpn_hidden_size;
  VisionMacs m;
  m.vit = N * C * v.num_channels * p * p;
  for (int i = 0; i < v.num_hidden_layers; ++i) {
    m.vit += 4 * N * C * C + 2 * N * C * I;  // q, k, v, o; fc1, fc2
    if (v.is_global(i)) {
      m.vit += 2 * N * N * C;  // q·kᵀ and probabilities·v over the whole grid
    } else {
      const int64_t w = v.window_size, windows = ((g + w - 1) / w) * ((g + w - 1) / w);
      m.vit += 2 * windows * (w * w) * (w * w) * C;  // per window, padding included
    }
  }
  const auto& scales = config.vision.scale_factors;
  const size_t levels = all_levels || scales.size() <= 1 ? scales.size() : scales.size() - 1;
  for (size_t i = 0; i < levels; ++i) {
    int64_t side = g, channels = C;
    if (scales[i] == 4.0 || scales[i] == 2.0) {
      m.neck += g * g * C * (C / 2) * 4;  // kernel 2, stride 2: each input pixel feeds 4 outputs
      side = 2 * g;
      channels = C / 2;
    }
    if (scales[i] == 4.0) {
      m.neck += side * side * (C / 2) * (C / 4) * 4;
      side = 4 * g;
      channels = C / 4;
    }
    if (scales[i] == 0.5) side = g / 2;
    m.neck += side * side * (channels * fpn + fpn * fpn * 9);  // proj1 1×1, proj2 3×3
    // The mask decoder's 3×3 convolution of every level but the last (the DETR's), once per image.
    const int64_t c = config.mask_decoder.hidden_size;
    if (i + 1 < levels) m.mask_skips += side * side * c * c * 9;
  }
  return m;
}

namespace {

// The side of an FPN level of scale factor `scale` over a `grid` × `grid` ViT output.
int64_t level_side(int64_t grid, double scale) {
  if (scale == 4.0) return 4 * grid;
  if (scale == 2.0) return 2 * grid;
  if (scale == 0.5) return grid / 2;
  return grid;
}

// q, k, v, o projections and the two attention products of `lq` queries over `lk` keys.
int64_t attention_macs(int64_t lq, int64_t lk, int64_t width) {
  return 2 * lq * width * width + 2 * lk * width * width + 2 * lq * lk * width;
}

}  // namespace

PhraseMacs count_phrase_macs(const Sam3Config& config) {
  PhraseMacs m;
  const int64_t L = text::ClipPadding{}.max_length;  // the processor pads every phrase to 32
  const TextEncoderConfig& t = config.text;
  m.text = t.num_layers * (attention_macs(L, L, t.hidden_size) + 2 * L * t.hidden_size * t.intermediate_size) +
           L * t.hidden_size * t.output_size;  // SAM 3's text_projection

  // The vision encoder's levels (the ×0.5 one dropped); the DETR runs on the last, the mask
  // decoder upsamples through the others.
  const int64_t grid = config.vision.backbone.grid_size();
  const auto& scales = config.vision.scale_factors;
  const size_t kept = scales.size() <= 1 ? scales.size() : scales.size() - 1;
  std::vector<int64_t> sides;
  for (size_t i = 0; i < kept; ++i) sides.push_back(level_side(grid, scales[i]));
  const int64_t N = sides.empty() ? grid * grid : sides.back() * sides.back();  // memory tokens
  const int64_t P = L;                                                            // prompt tokens: the text

  const DetrEncoderConfig& e = config.detr_encoder;
  const int64_t d = e.hidden_size;
  m.detr_encoder = e.num_layers * (attention_macs(N, N, d) + attention_macs(N, P, d) + 2 * N * d * e.intermediate_size);

  const DetrDecoderConfig& dc = config.detr_decoder;
  const int64_t h = dc.hidden_size, Q = dc.num_queries, Qp = Q + 1, side = sides.empty() ? grid : sides.back();
  const int64_t per_layer = Q * (2 * h * h + h * h)                         // ref_point_head on the boxes' sines
                            + 2 * Q * side * (2 * h + h * dc.num_heads)     // box bias MLPs, rows and columns
                            + attention_macs(Qp, Qp, h)                     // self-attention
                            + attention_macs(Qp, P, h)                      // text cross-attention
                            + attention_macs(Qp, N, h)                      // vision cross-attention
                            + 2 * Qp * h * dc.intermediate_size             // MLP
                            + Q * (2 * h * h + 4 * h) + (2 * h * h + h);    // box and presence heads
  m.detr_decoder = dc.num_layers * per_layer;
  m.detr_decoder += P * 2 * h * dc.intermediate_size + h * h + Q * h * h + Q * h;  // scoring: text MLP, projections, dot

  const int64_t c = config.mask_decoder.hidden_size;
  m.mask_decoder = attention_macs(N, P, c);  // the memory attends to the prompt
  for (size_t k = 0; k + 1 < sides.size(); ++k) {
    // The 3×3 convolution of the upsampled map (its level's part is the image's: mask_skips):
    // ×2 exactly, four 2×2 kernels over the coarser map padded by one; otherwise at full size.
    const int64_t s = sides[sides.size() - 2 - k], coarse = sides[sides.size() - 1 - k];
    m.mask_decoder += s == 2 * coarse ? 4 * (coarse + 1) * (coarse + 1) * c * c * 4 : s * s * c * c * 9;
  }
  const int64_t finest = sides.empty() ? grid : sides.front(), pixels = finest * finest;
  m.mask_decoder += Q * c * c               // instance projection, folded into the queries
                    + pixels * c            // semantic projection
                    + 3 * Q * c * c         // mask embedder
                    + Q * c * pixels;       // queries × pixel embeddings
  return m;
}

}  // namespace segkit::sam3
