#pragma once
// SAM 3's text branch as transformers 5.17 runs it: CLIP's text transformer
// (CLIPTextModelWithProjection, pre-norm layers under a causal + key-padding mask, final layer
// norm), then SAM 3's own Linear(text width → DETR width) on every token. CLIP's pooled output
// and its projection are not part of what SAM 3 uses; they are kept only as an optional
// intermediate, because the reference fixtures hold them.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct TextForwardOptions {
  bool keep_intermediates = false;  // fill the intermediate fields below (parity tests)
  // Run only up to the batch's last real token and leave token_features zero after it. Exact at
  // every earlier position (under the causal mask no position sees a later one); the positions
  // dropped are padding, which SAM 3 masks everywhere downstream. Saves most of the work on
  // short phrases in a batch; off by default so that every position matches transformers.
  bool trim_padding = false;
};

struct TextEncoderOutput {
  at::Tensor token_features;  // B × L × output_size, float32, every position (padding included)
  at::Tensor mask;            // B × L bool: the attention mask, nonzero = a real token
  // Only with keep_intermediates; with trim_padding these cover the positions computed only:
  at::Tensor embeddings;              // B × L × hidden: token + position embeddings
  std::vector<at::Tensor> layers;     // each layer's output, B × L × hidden
  at::Tensor last_hidden_state;       // after final_layer_norm
  at::Tensor clip_text_embeds;        // B × projection_dim; undefined without CLIP's projection weight
};

class TextEncoder {
 public:
  // Weights under `prefix` + "text_encoder.text_model.…" and `prefix` + "text_projection.…"
  // ("" for a sam3 checkpoint, "detector_model." for sam3_video), every shape checked against
  // `c`. CLIP's own "text_encoder.text_projection.weight" is read (and checked) when present.
  static TextEncoder load(const nn::WeightMap& w, const std::string& prefix, const TextEncoderConfig& c);

  // input_ids B × L (integer), attention_mask B × L (integer or bool, may be undefined: all
  // tokens real). Error for ids outside the vocabulary, L above max_position_embeddings, or
  // shapes that disagree.
  TextEncoderOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                            const TextForwardOptions& options = {}) const;

  const TextEncoderConfig& config() const { return config_; }

  // The layers' products in bfloat16 (Linear::use_bfloat16, for `rows` tokens): attention scores
  // and their softmax, layer norms and the residual stream stay float32.
  void use_bfloat16(int64_t rows);

 private:
  struct Layer {
    nn::LayerNorm norm1, norm2;
    nn::Linear q, k, v, out, fc1, fc2;
  };
  at::Tensor attention(const Layer& l, const at::Tensor& h, const at::Tensor& bias) const;
  at::Tensor mlp(const Layer& l, const at::Tensor& h) const;

  TextEncoderConfig config_;
  at::Tensor token_embedding_, position_embedding_;
  std::vector<Layer> layers_;
  nn::LayerNorm final_norm_;
  nn::Linear clip_projection_;  // weight undefined when the checkpoint lacks it
  nn::Linear projection_;
  at::ScalarType compute_ = at::kFloat;  // the layers' products
};

}  // namespace segkit::sam3
