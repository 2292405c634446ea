#pragma once
// Upstream utils/amg.py batched_mask_to_box: the XYXY box (inclusive pixel indices) around each
// mask, [0,0,0,0] for an empty one.
#include <ATen/core/Tensor.h>

namespace segkit::amg {

// masks: …×H×W bool → …×4 int64.
at::Tensor batched_mask_to_box(const at::Tensor& masks);

}  // namespace segkit::amg
