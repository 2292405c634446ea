#pragma once
// The Swin Transformer backbone as Mask2Former uses it (transformers' SwinBackbone with
// always_partition): four stages of shifted-window attention, each stage's map before patch
// merging normalised by its own LayerNorm.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/weight_map.h"
#include "segkit/mask2former.h"

namespace segkit::mask2former {

struct SwinBlock {
  nn::LayerNorm norm_before, norm_after;
  nn::Linear qkv, output, fc1, fc2;  // qkv: the query, key and value projections stacked
  at::Tensor relative_position_bias;  // heads × ws² × ws², from the (2·ws−1)² × heads table
  int64_t heads = 1;
};

struct SwinStage {
  std::vector<SwinBlock> blocks;
  nn::LayerNorm merge_norm;    // patch merging, absent after the last stage
  nn::Linear merge_reduction;  // 4C → 2C, no bias
  nn::LayerNorm output_norm;   // hidden_states_norms.stageN
};

class SwinBackbone {
 public:
  // `prefix` ends with a dot: "model.pixel_level_module.encoder.".
  static SwinBackbone load(const nn::WeightMap& w, const std::string& prefix, const Mask2FormerConfig& config);
  // pixel_values B × 3 × H × W (H, W multiples of 32) → 4 maps B × C·2^s × H/2^(s+2) × W/2^(s+2),
  // float32 channels-last.
  std::vector<at::Tensor> operator()(const at::Tensor& pixel_values) const;
  // Runs the blocks' and patch mergings' products in `type` (weights packed, converted for
  // bfloat16: nn::Linear::prepare); the residual stream, norms and softmax stay float32, and so
  // do the stage outputs. `tokens` is the first stage's token count the packing is chosen for.
  void prepare_products(at::ScalarType type, int64_t tokens);

 private:
  // x (B × H·W × C float32, contiguous) through the block, in place. `mask`
  // (windows × ws² × ws²) shifts the block's windows; undefined: a plain block.
  void block_(const SwinBlock& b, const at::Tensor& x, int64_t height, int64_t width, const at::Tensor& mask) const;
  // x += the block's shifted-window attention of x.
  void add_window_attention_(const SwinBlock& b, const at::Tensor& x, int64_t height, int64_t width,
                             const at::Tensor& mask) const;

  nn::Conv2d patch_embed_;
  // The same weights as a product over each patch's pixels, packed (float32) by prepare_products
  // where oneDNN can; unpacked, the convolution runs.
  nn::Linear patch_projection_;
  nn::LayerNorm embed_norm_;
  std::vector<SwinStage> stages_;
  int64_t window_ = 7, patch_ = 4;
  at::ScalarType compute_ = at::kFloat;  // the type the products read and write
};

}  // namespace segkit::mask2former
