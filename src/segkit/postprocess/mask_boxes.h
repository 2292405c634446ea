#pragma once
// Upstream utils/amg.py batched_mask_to_box: the XYXY box (inclusive pixel indices) around each
// mask, [0,0,0,0] for an empty one.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace segkit::amg {

// masks: …×H×W bool → …×4 int64.
at::Tensor batched_mask_to_box(const at::Tensor& masks);

// The same for one H×W mask of 0/1 bytes, without tensors (safe on any worker thread).
std::array<int64_t, 4> mask_to_box(const uint8_t* mask, int64_t height, int64_t width);

}  // namespace segkit::amg
