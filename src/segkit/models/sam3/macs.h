#pragma once
// Multiply-adds of SAM 3's vision encoder, counted analytically from the configuration the way
// segkit computes it (padded windows included). Only matrix products and convolutions count:
// norms, softmax, RoPE, activations and pooling are left out, so GFLOP = 2 × MACs is the
// arithmetic a GEMM-bound implementation cannot avoid.
#include <cstdint>

#include "models/sam3/config.h"

namespace segkit::sam3 {

struct VisionMacs {
  int64_t vit = 0;   // patch embedding, q/k/v/o projections, attention products, MLPs
  int64_t neck = 0;  // transposed convolutions and the 1×1 and 3×3 projections
  int64_t total() const { return vit + neck; }
};

// For one image at the config's input size; the ×0.5 level only with `all_levels` (Sam3Model
// drops it, and VisionEncoder skips it by default).
VisionMacs count_vision_macs(const Sam3Config& config, bool all_levels = false);

}  // namespace segkit::sam3
