#pragma once
// Mask2Former's transformer decoder: learnable queries refined by masked cross-attention to one
// pixel-decoder level at a time (round robin from 1/32), self-attention and a feed-forward
// layer, with a class and mask prediction after every layer. The mask predicted after one
// layer restricts where each query may look in the next.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/weight_map.h"
#include "segkit/mask2former.h"

namespace segkit::mask2former {

struct DecoderPrediction {
  at::Tensor class_logits;  // B × Q × (K+1)
  at::Tensor mask_logits;   // B × Q × H/4 × W/4
};

struct DecoderOutput {
  std::vector<DecoderPrediction> predictions;  // one per decoder layer; the last is the result
  std::vector<at::Tensor> hidden_states;       // B × Q × d: the queries, then each layer's output
};

struct MaskedAttentionLayer {
  nn::Linear cross_q, cross_k, cross_v;  // slices of torch's packed in_proj (3d × d)
  nn::Linear cross_out, self_q, self_k, self_v, self_out, fc1, fc2;
  nn::LayerNorm cross_norm, self_norm, final_norm;
};

class TransformerDecoder {
 public:
  // Tensors under "model.transformer_module." and "class_predictor".
  static TransformerDecoder load(const nn::WeightMap& w, const Mask2FormerConfig& config);
  // multi_scale: 3 maps B × d × H × W at 1/32, 1/16, 1/8; mask_features B × d × H/4 × W/4.
  // all_layers false keeps only the last prediction (the others are not needed to segment).
  DecoderOutput operator()(const std::vector<at::Tensor>& multi_scale, const at::Tensor& mask_features,
                           bool all_layers = false) const;
  // The decoder's products in `type`: the key and value projections of the pixel-decoder levels
  // (most of its work) packed for `tokens`, the finest level's token count; the queries' own
  // layers for the query count; in bfloat16 also the mask products (the pixels' features packed
  // once per forward) and the attention's (kernels/cpu/masked_attention.h). Norms, softmax and
  // the residual sums stay float32.
  void prepare_products(at::ScalarType type, int64_t tokens);

 private:
  // The mask embedder's MLP over decoder-normed queries: B × Q × mask_feature_size.
  at::Tensor mask_embedding(const at::Tensor& normed) const;

  std::vector<MaskedAttentionLayer> layers_;
  nn::LayerNorm decoder_norm_;
  nn::Linear class_predictor_;
  std::vector<nn::Linear> mask_embedder_;
  at::Tensor level_embed_, query_features_, query_position_;
  int64_t heads_ = 8, hidden_ = 256;
  at::ScalarType compute_ = at::kFloat;  // the products' type
};

}  // namespace segkit::mask2former
