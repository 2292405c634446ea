#include "models/sam3/macs.h"

namespace segkit::sam3 {

VisionMacs count_vision_macs(const Sam3Config& config, bool all_levels) {
  const ViTConfig& v = config.vision.backbone;
  const int64_t g = v.grid_size(), N = g * g, C = v.hidden_size, I = v.intermediate_size;
  const int64_t p = v.patch_size, fpn = config.vision.fpn_hidden_size;
  VisionMacs m;
  m.vit = N * C * v.num_channels * p * p;
  for (int i = 0; i < v.num_hidden_layers; ++i) {
    m.vit += 4 * N * C * C + 2 * N * C * I;  // q, k, v, o; fc1, fc2
    if (v.is_global(i)) {
      m.vit += 2 * N * N * C;  // q·kᵀ and probabilities·v over the whole grid
    } else {
      const int64_t w = v.window_size, windows = ((g + w - 1) / w) * ((g + w - 1) / w);
      m.vit += 2 * windows * (w * w) * (w * w) * C;  // per window, padding included
    }
  }
  const auto& scales = config.vision.scale_factors;
  const size_t levels = all_levels || scales.size() <= 1 ? scales.size() : scales.size() - 1;
  for (size_t i = 0; i < levels; ++i) {
    int64_t side = g, channels = C;
    if (scales[i] == 4.0 || scales[i] == 2.0) {
      m.neck += g * g * C * (C / 2) * 4;  // kernel 2, stride 2: each input pixel feeds 4 outputs
      side = 2 * g;
      channels = C / 2;
    }
    if (scales[i] == 4.0) {
      m.neck += side * side * (C / 2) * (C / 4) * 4;
      side = 4 * g;
      channels = C / 4;
    }
    if (scales[i] == 0.5) side = g / 2;
    m.neck += side * side * (channels * fpn + fpn * fpn * 9);  // proj1 1×1, proj2 3×3
  }
  return m;
}

}  // namespace segkit::sam3
