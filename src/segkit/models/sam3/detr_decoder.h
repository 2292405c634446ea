#pragma once
// SAM 3's DETR decoder as transformers 5.17 runs it (Sam3DetrDecoder): a presence token and the
// learned queries, post-norm layers of self-attention, cross-attention to the prompt and
// cross-attention to the encoder's memory under a box relative-position bias, with the reference
// boxes refined after every layer and a presence logit read from the presence token.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/blocks.h"
#include "models/sam3/config.h"
#include "models/sam3/detr_encoder.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct DetrDecoderOutput {
  at::Tensor hidden;           // L × B × Q × C: each layer's queries after output_layer_norm
  at::Tensor reference_boxes;  // L × B × Q × 4 cxcywh in [0, 1]: the boxes going into each layer
  at::Tensor boxes;            // B × Q × 4 cxcywh: the last layer's refined boxes (pred_boxes before xyxy)
  at::Tensor presence_logits;  // L × B × 1, clamped to ±10
  std::vector<at::Tensor> layers;  // each layer's output B × (1 + Q) × C (row 0: presence), keep_layers only
};

class DetrDecoder {
 public:
  // Weights under `prefix` + "detr_decoder.…", every shape checked against `c`.
  static DetrDecoder load(const nn::WeightMap& w, const std::string& prefix, const DetrDecoderConfig& c);

  // memory and pos B × H·W × C (the encoder's output, row-major over an H × W grid), prompt B × P × C
  // with prompt_mask B × P (nonzero = real; undefined: all real). Float32.
  DetrDecoderOutput forward(const at::Tensor& memory, const at::Tensor& pos, int64_t height, int64_t width,
                            const at::Tensor& prompt, const at::Tensor& prompt_mask, bool keep_layers = false) const;
  DetrDecoderOutput forward(const DetrEncoderOutput& encoded, const at::Tensor& prompt, const at::Tensor& prompt_mask,
                            bool keep_layers = false) const {
    return forward(encoded.memory, encoded.pos, encoded.height, encoded.width, prompt, prompt_mask, keep_layers);
  }

  const DetrDecoderConfig& config() const { return config_; }

 private:
  struct Layer {
    Attention self_attn, text_cross_attn, vision_cross_attn;
    nn::LayerNorm self_attn_norm, text_cross_attn_norm, vision_cross_attn_norm, mlp_norm;
    FeedForward mlp;
  };
  at::Tensor query_position(const at::Tensor& boxes) const;
  at::Tensor box_bias(const at::Tensor& boxes, int64_t height, int64_t width) const;

  DetrDecoderConfig config_;
  std::vector<Layer> layers_;
  nn::LayerNorm output_norm_, presence_norm_;
  DecoderMlp box_head_, presence_head_, ref_point_head_, rpb_x_, rpb_y_;
  at::Tensor query_embed_, reference_points_, presence_token_;
};

// (cx, cy, w, h) → (x0, y0, x1, y1) over the last dimension.
at::Tensor cxcywh_to_xyxy(const at::Tensor& boxes);

// transformers' inverse_sigmoid: log(max(v, 1e-3) / max(1 − v, 1e-3)) with v clamped to [0, 1].
at::Tensor inverse_sigmoid(const at::Tensor& v);

}  // namespace segkit::sam3
