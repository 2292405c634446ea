#include "postprocess/stability_score.h"

#include <ATen/ops/div.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/sum.h>

namespace segkit::amg {

static at::Tensor count_above(const at::Tensor& logits, double threshold) {
  return at::sum(at::sum(at::gt(logits, threshold), -1, false, at::kShort), -1, false, at::kInt);
}

at::Tensor calculate_stability_score(const at::Tensor& logits, double mask_threshold, double threshold_offset) {
  const at::Tensor intersections = count_above(logits, mask_threshold + threshold_offset);
  const at::Tensor unions = count_above(logits, mask_threshold - threshold_offset);
  return at::div(intersections, unions);  // int / int: true division in the default float dtype
}

}  // namespace segkit::amg
