#pragma once
// SAM 3's DETR encoder as transformers 5.17 runs it (Sam3DetrEncoder): pre-norm layers over the
// flattened ×1 FPN level, each self-attention with the sine position encoding added to queries and
// keys, cross-attention to the prompt tokens (text, then any geometry) under their padding mask,
// and an MLP. No final norm; the prompt passes through unchanged.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/blocks.h"
#include "models/sam3/config.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct DetrEncoderOutput {
  at::Tensor memory;  // B × H·W × C, row-major over (h, w): last_hidden_state
  at::Tensor pos;     // B × H·W × C: the position encoding flattened alike (pos_embeds_flattened)
  int64_t height = 0, width = 0;
  std::vector<at::Tensor> layers;  // each layer's output, only with keep_layers
};

class DetrEncoder {
 public:
  // Weights under `prefix` + "detr_encoder.layers.<i>.…" ("" for a sam3 checkpoint,
  // "detector_model." for sam3_video), every shape checked against `c`.
  static DetrEncoder load(const nn::WeightMap& w, const std::string& prefix, const DetrEncoderConfig& c);

  // features B × C × H × W (the ×1 FPN level), pos its position encoding (B or 1 × C × H × W),
  // prompt B × P × C, prompt_mask B × P (nonzero = real token; undefined: all real). Float32.
  DetrEncoderOutput forward(const at::Tensor& features, const at::Tensor& pos, const at::Tensor& prompt,
                            const at::Tensor& prompt_mask, bool keep_layers = false) const;

  const DetrEncoderConfig& config() const { return config_; }
  // Every layer's projections and feed-forward products in bfloat16, packed for `tokens` rows;
  // the norms, the residual sums and the output stay float32.
  void use_bfloat16(int64_t tokens);

 private:
  DetrEncoderConfig config_;
  std::vector<EncoderLayer> layers_;
};

}  // namespace segkit::sam3
