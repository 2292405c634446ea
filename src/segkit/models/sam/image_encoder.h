#pragma once
// SAM's image encoder: a ViT with windowed and global attention, decomposed relative
// position terms, and a convolutional neck (upstream modeling/image_encoder.py).
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "segkit/sam.h"

namespace segkit::sam {

struct EncoderBlock {
  nn::LayerNorm norm1, norm2;
  nn::Linear qkv, proj, lin1, lin2;
  at::Tensor rel_pos_h, rel_pos_w;  // (2·size−1)×head_dim
  int heads = 0;
  int window = 0;  // 0 = global attention
  // x: B×H×W×C float32 (the residual stream stays float32); matrix products and attention
  // run in `compute` (float32 or bfloat16, the type of the linear weights).
  at::Tensor forward(const at::Tensor& x, at::ScalarType compute) const;
  // The attention sublayer (qkv, attention, projection) on x (B×H×W×C in the compute type),
  // two ways with the same result: in one kernel (kernels/cpu/attention_fused.h), windows
  // included, where the CPU has one for the compute type; otherwise in tiles, windows
  // partitioned and put back around attention() (which sees each window as an image).
  bool runs_fused_attention(at::ScalarType compute, const at::Device& device) const;
  at::Tensor fused_attention(const at::Tensor& x) const;
  at::Tensor tiled_attention(const at::Tensor& x) const;
  at::Tensor attention(const at::Tensor& x) const;
};

// Called with (name, activation) for intermediate activations when tracing is asked for.
using ActivationTap = std::function<void(const std::string&, const at::Tensor&)>;

struct ImageEncoder {
  nn::Conv2d patch_embed;
  at::Tensor pos_embed;  // 1×g×g×C
  std::vector<EncoderBlock> blocks;
  nn::Conv2d neck_conv1, neck_conv2;
  nn::LayerNorm2d neck_norm1, neck_norm2;

  at::ScalarType compute = at::kFloat;

  static ImageEncoder load(const nn::WeightMap& w, const SamConfig& config);
  // Converts the blocks' linear weights to bfloat16 (packed for oneDNN where it can,
  // Linear::use_bfloat16) and runs the blocks in bfloat16 (layer norms, residual stream, patch
  // embedding and neck stay float32).
  void use_bfloat16();
  // x: 1×3×S×S normalised, padded image → 1×out_chans×g×g embedding.
  at::Tensor forward(const at::Tensor& x, const ActivationTap& tap = nullptr) const;
  at::Tensor embed_patches(const at::Tensor& x) const;
};

}  // namespace segkit::sam
