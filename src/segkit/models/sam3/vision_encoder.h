#pragma once
// SAM 3's vision encoder (transformers' Sam3VisionModel): the ViT backbone, then the FPN neck
// with each level's sine position encoding.
#include <ATen/core/Tensor.h>

#include <vector>

#include "models/sam3/config.h"
#include "models/sam3/fpn_neck.h"
#include "models/sam3/vit.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct VisionFeatures {
  at::Tensor last_hidden_state;          // B × N × C, the ViT's output (N = grid²)
  std::vector<at::Tensor> fpn;           // B × fpn × h × w per level, in scale_factors order
  std::vector<at::Tensor> fpn_position;  // B × fpn × h × w (broadcast views over the batch)
  std::vector<at::Tensor> vit_layers;    // B × grid × grid × C per layer, when asked for
};

struct VisionEncoder {
  ViTBackbone backbone;
  FpnNeck neck;

  // Tensors "vision_encoder.backbone.*" and "vision_encoder.neck.*" of `w` (checkpoint.h names).
  static VisionEncoder load(const nn::WeightMap& w, const Sam3Config& config);

  // pixel_values: B × 3 × S × S float32 (preprocess.h). Sam3Model drops the last level (×0.5),
  // so it is computed only with `all_levels`; `keep_layers` fills vit_layers.
  VisionFeatures operator()(const at::Tensor& pixel_values, bool all_levels = false, bool keep_layers = false) const;
};

}  // namespace segkit::sam3
