#pragma once
// Upstream utils/amg.py calculate_stability_score: the IoU of a mask's logits thresholded at
// mask_threshold ± offset. Rows are summed in int16 and then int32, as upstream does to save
// memory, so a row wider than 32767 pixels wraps exactly as it does there.
#include <ATen/core/Tensor.h>

namespace segkit::amg {

// logits: …×H×W float → … float32 (0/0 gives NaN, as upstream).
at::Tensor calculate_stability_score(const at::Tensor& logits, double mask_threshold, double threshold_offset);

}  // namespace segkit::amg
