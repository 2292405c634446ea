#pragma once
// A 3×3 convolution (padding 1) of a map upsampled ×2 by nearest, taken as four 2×2
// convolutions of the coarse map (models/sam3/mask_decoder.cpp folds the kernels): this puts the
// four phases' outputs back in place and adds a full-size term, in one pass.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// phases: B × 4C × (h + 1) × (w + 1), float32 or bfloat16, the 2×2 convolutions of the h × w
// coarse map padded by one, phase (a, b) in channels [(2a + b)·C, (2a + b + 1)·C).
// term: B (or 1) × C × 2h × 2w, float32 or bfloat16.
// Returns out B × C × 2h × 2w float32, channels-last, out[2i + a, 2j + b] =
// phases[(a, b)][i + a, j + b] + term[2i + a, 2j + b].
at::Tensor add_upsampled_phases(const at::Tensor& phases, const at::Tensor& term);

}  // namespace segkit::kernels
