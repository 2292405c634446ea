#pragma once
// SAM 3's FPN neck (transformers' Sam3VisionNeck): from the ViT's single grid, one feature map
// per scale factor (×4 and ×2 by transposed convolutions, ×1 as is, ×0.5 by max pooling), each
// projected by a 1×1 then a 3×3 convolution; and the sine position encoding of each level.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/winograd_conv.h"
#include "models/sam3/config.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct FpnLevel {
  double scale = 1.0;
  std::vector<nn::ConvTranspose2d> upsample;  // ×4: two with an exact GELU between; ×2: one
  bool max_pool = false;                      // ×0.5
  nn::Conv2d proj1, proj2;
  // proj2 by oneDNN's Winograd kernel where it has one (float32; null otherwise).
  std::shared_ptr<const kernels::WinogradConv3x3> proj2_winograd;

  // x: B × C × H × W → B × fpn × (H·scale) × (W·scale).
  at::Tensor operator()(const at::Tensor& x) const;
};

struct FpnNeck {
  std::vector<FpnLevel> levels;  // in the config's scale_factors order
  int64_t fpn_hidden_size = 0;

  // `prefix` ends with a dot ("vision_encoder.neck."); shapes checked against the config.
  static FpnNeck load(const nn::WeightMap& w, const std::string& prefix, const VisionConfig& config);
};

// DETR's normalised sine encoding of an H × W grid as SAM 3 uses it (temperature 10⁴, scale 2π,
// positions (i+1)/(n+10⁻⁶)): 1 × channels × H × W, rows' channels first, then columns'.
at::Tensor sine_position_encoding(int64_t channels, int64_t height, int64_t width);

}  // namespace segkit::sam3
