#pragma once
// SAM 3's classification head as transformers 5.17 runs it (Sam3DotProductScoring): the prompt
// tokens go through a residual MLP and a layer norm, are mean-pooled over the real tokens and
// projected; each query's projection is dotted with that, scaled by 1/√C and clamped to ±12.
// The presence logit comes from the decoder (DetrDecoderOutput::presence_logits).
#include <ATen/core/Tensor.h>

#include <string>

#include "models/sam3/blocks.h"
#include "models/sam3/config.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

class DotProductScoring {
 public:
  // Weights under `prefix` + "dot_product_scoring.…"; widths from the decoder's config.
  static DotProductScoring load(const nn::WeightMap& w, const std::string& prefix, const DetrDecoderConfig& c);

  // queries … × B × Q × C (one decoder layer's hidden states, or all L of them), prompt B × P × C,
  // prompt_mask B × P (nonzero = real; undefined: all real) → … × B × Q logits. Float32.
  at::Tensor operator()(const at::Tensor& queries, const at::Tensor& prompt, const at::Tensor& prompt_mask) const;

 private:
  int64_t width_ = 0;
  DecoderMlp text_mlp_;
  nn::LayerNorm text_norm_;
  nn::Linear text_proj_, query_proj_;
};

}  // namespace segkit::sam3
