#pragma once
// One pass over upscaled mask logits that yields what the generator needs from them: the
// stability score (as calculate_stability_score), the binary mask (logits > threshold) and its
// box (as batched_mask_to_box). Upstream makes five full-size passes for the same results.
#include <ATen/core/Tensor.h>

namespace segkit::amg {

struct MeasuredMasks {
  at::Tensor stability;  // N float32, bit-identical to calculate_stability_score
  at::Tensor masks;      // N×H×W bool
  at::Tensor boxes;      // N×4 int64 XYXY, bit-identical to batched_mask_to_box
};

// logits: N×H×W float32.
MeasuredMasks measure_masks(const at::Tensor& logits, double mask_threshold, double stability_offset);

}  // namespace segkit::amg
