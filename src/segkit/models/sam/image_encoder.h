#pragma once
// SAM's image encoder: a ViT with windowed and global attention, decomposed relative
// position terms, and a convolutional neck (upstream modeling/image_encoder.py).
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "models/sam/layers.h"
#include "segkit/sam.h"

namespace segkit::sam {

struct EncoderBlock {
  LayerNorm norm1, norm2;
  Linear qkv, proj, lin1, lin2;
  at::Tensor rel_pos_h, rel_pos_w;  // (2·size−1)×head_dim
  int heads = 0;
  int window = 0;  // 0 = global attention
  at::Tensor forward(const at::Tensor& x) const;  // B×H×W×C
  at::Tensor attention(const at::Tensor& x) const;
};

// Called with (name, activation) for intermediate activations when tracing is asked for.
using ActivationTap = std::function<void(const std::string&, const at::Tensor&)>;

struct ImageEncoder {
  Conv2d patch_embed;
  at::Tensor pos_embed;  // 1×g×g×C
  std::vector<EncoderBlock> blocks;
  Conv2d neck_conv1, neck_conv2;
  LayerNorm2d neck_norm1, neck_norm2;

  static ImageEncoder load(const WeightMap& w, const SamConfig& config);
  // x: 1×3×S×S normalised, padded image → 1×out_chans×g×g embedding.
  at::Tensor forward(const at::Tensor& x, const ActivationTap& tap = nullptr) const;
};

}  // namespace segkit::sam
