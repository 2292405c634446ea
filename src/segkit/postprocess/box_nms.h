#pragma once
// Non-maximum suppression with torchvision's semantics (ops.nms and ops.batched_nms), which the
// automatic mask generator relies on for which duplicates survive and in what order:
// - boxes are visited by descending score, tied scores in index order (as upstream's goldens show);
// - a box is suppressed when its IoU with a kept box is strictly greater than the threshold,
//   IoU computed in the boxes' precision without the +1 pixel convention;
// - batched: up to 1000 boxes (4000 numbers) categories are separated by offsetting each box by
//   category × (max coordinate + 1), beyond that NMS runs per category and the kept indices are
//   re-sorted by score — two paths that agree except in floating-point corner cases.
#include <ATen/core/Tensor.h>

namespace segkit::amg {

// boxes N×4 XYXY (float32 or float64), scores N (same dtype) → kept indices (int64), by score.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// idxs N: a category per box; boxes of different categories never suppress each other.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

}  // namespace segkit::amg
