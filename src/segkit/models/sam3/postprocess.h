#pragma once
// Sam3Processor's post-processing as transformers 5.17 does it (Sam3ImageProcessor's
// post_process_instance_segmentation, post_process_semantic_segmentation and
// post_process_object_detection), from the raw outputs to per-image results.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace segkit::sam3 {

struct ImageSize {
  int64_t height = 0, width = 0;
};

// Raw model outputs under transformers' names; presence_logits may be undefined (scores are then
// sigmoid(pred_logits) alone), pred_masks and semantic_seg only where they are post-processed.
struct RawOutputs {
  at::Tensor pred_logits;      // B × Q
  at::Tensor presence_logits;  // B × 1
  at::Tensor pred_boxes;       // B × Q × 4 (x0, y0, x1, y1) normalized
  at::Tensor pred_masks;       // B × Q × h × w logits
  at::Tensor semantic_seg;     // B × 1 × h × w logits
};

struct Instances {  // one image
  at::Tensor scores;  // N float32: sigmoid(pred_logits) · sigmoid(presence_logits)
  at::Tensor boxes;   // N × 4 float32 (x0, y0, x1, y1) in pixels of the target size (not clamped)
  at::Tensor masks;   // N × H × W bool (transformers: int64 0/1); undefined for detection only
  at::Tensor query;   // N int64: the query each instance comes from, ascending
};

// Per image: the queries whose score > threshold (strictly), in query order (no sorting, no
// NMS, no top-k), their boxes scaled by (W, H, W, H) of `target_sizes` and masks
// bilinear(sigmoid(logits)) to that size (align_corners false, no antialias) > mask_threshold.
// Empty `target_sizes`: boxes stay normalized and masks at the model's size. Error on shapes
// that do not fit together or a target size count other than B.
std::vector<Instances> post_process_instance_segmentation(const RawOutputs& out, double threshold = 0.3,
                                                          double mask_threshold = 0.5,
                                                          const std::vector<ImageSize>& target_sizes = {});

// The same scores and boxes, without masks (pred_masks is not read).
std::vector<Instances> post_process_object_detection(const RawOutputs& out, double threshold = 0.3,
                                                     const std::vector<ImageSize>& target_sizes = {});

// Per image an H × W bool map: bilinear(sigmoid(semantic_seg)) to the target size > threshold.
std::vector<at::Tensor> post_process_semantic_segmentation(const RawOutputs& out, double threshold = 0.5,
                                                           const std::vector<ImageSize>& target_sizes = {});

}  // namespace segkit::sam3
