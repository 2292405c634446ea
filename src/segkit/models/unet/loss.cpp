#include "models/unet/loss.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/Reduction.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/one_hot.h>
#include <ATen/ops/softmax.h>
#include <c10/util/Optional.h>

namespace segkit::unet {

at::Tensor dice_loss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& class_weights) {
  constexpr double eps = 1.0;  // keeps classes absent from the batch from dominating the gradient
  const int64_t classes = logits.size(1);
  at::Tensor prob = at::softmax(logits, 1);
  at::Tensor truth = at::one_hot(target, classes).permute({0, 3, 1, 2}).to(prob.scalar_type());
  at::Tensor inter = (prob * truth).sum({0, 2, 3});
  at::Tensor total = prob.sum({0, 2, 3}) + truth.sum({0, 2, 3});
  at::Tensor dice = (inter * 2 + eps) / (total + eps);
  if (!class_weights.defined()) return 1 - dice.mean();
  at::Tensor w = class_weights.to(dice.scalar_type());
  return 1 - (dice * w).sum() / w.sum();
}

at::Tensor segmentation_loss(UNetLoss kind, const at::Tensor& logits, const at::Tensor& target,
                             const at::Tensor& class_weights, const at::Tensor& pixel_weights) {
  auto ce = [&] {
    c10::optional<at::Tensor> w;
    if (class_weights.defined()) w = class_weights.to(logits.scalar_type());
    if (!pixel_weights.defined()) return at::cross_entropy_loss(logits, target, w);
    const at::Tensor per_pixel = at::cross_entropy_loss(logits, target, w, at::Reduction::None);
    // per_pixel already carries the class weight; the denominator needs it too.
    const at::Tensor pw = pixel_weights.to(per_pixel.scalar_type());
    const at::Tensor total = w ? pw * w->index_select(0, target.flatten()).view_as(pw) : pw;
    return (per_pixel * pw).sum() / total.sum();
  };
  switch (kind) {
    case UNetLoss::CrossEntropy: return ce();
    case UNetLoss::Dice: return dice_loss(logits, target, class_weights);
    case UNetLoss::CrossEntropyDice: return ce() + dice_loss(logits, target, class_weights);
  }
  return ce();
}

}  // namespace segkit::unet
