#pragma once
// SAM 3's detector after the image and text encoders, as Sam3Model.forward runs it: the prompt
// (projected text, then any exemplar-box tokens), the DETR encoder over the ×1 FPN level, the
// DETR decoder and the scoring head, giving transformers' raw outputs pred_logits, pred_boxes,
// presence_logits and decoder_reference_boxes, and what the mask decoder needs next.
#include <ATen/core/Tensor.h>

#include <string>

#include "models/sam3/config.h"
#include "models/sam3/detr_decoder.h"
#include "models/sam3/detr_encoder.h"
#include "models/sam3/geometry_encoder.h"
#include "models/sam3/scoring.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct DetrInputs {
  at::Tensor features;    // B × C × H × W: the ×1 FPN level (the second-to-last the neck gives)
  at::Tensor pos;         // its sine position encoding, B or 1 × C × H × W
  at::Tensor text;        // B or 1 × L × C: the projected text tokens (TextEncoderOutput::token_features)
  at::Tensor text_mask;   // B or 1 × L, nonzero = real; undefined: all real
  at::Tensor boxes;       // optional B × N × 4 exemplar boxes, (cx, cy, w, h) normalized to the image
  at::Tensor box_labels;  // B × N with boxes: 1 positive, 0 negative, −10 padding
};

struct DetrOutput {
  at::Tensor pred_logits;      // B × Q
  at::Tensor pred_boxes;       // B × Q × 4 (x0, y0, x1, y1) normalized, not clamped
  at::Tensor presence_logits;  // B × 1
  at::Tensor decoder_reference_boxes;  // L × B × Q × 4 cxcywh
  at::Tensor queries;          // B × Q × C: the last decoder layer's (normed) queries, for the masks
  Prompt prompt;               // B × P × C tokens and B × P mask
  DetrEncoderOutput encoded;   // the memory (B × H·W × C) and its position encoding
};

class Detr {
 public:
  // Weights under `prefix` ("" or "detector_model."). The geometry encoder is loaded when the
  // checkpoint has it (every SAM 3 checkpoint does); without it, box prompts are an error.
  static Detr load(const nn::WeightMap& w, const std::string& prefix, const DetrConfig& c);

  DetrOutput forward(const DetrInputs& in) const;

  const DetrConfig& config() const { return config_; }
  // The encoder's products in bfloat16 (DetrEncoder::use_bfloat16), for `tokens` image tokens.
  void use_bfloat16(int64_t tokens) { encoder_.use_bfloat16(tokens); }

 private:
  DetrConfig config_;
  bool has_geometry_ = false;
  GeometryEncoder geometry_;
  DetrEncoder encoder_;
  DetrDecoder decoder_;
  DotProductScoring scoring_;
};

}  // namespace segkit::sam3
