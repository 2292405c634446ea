#pragma once
// Training losses on logits N × C × H × W and class-index targets N × H × W (int64).
#include <ATen/core/Tensor.h>

#include "segkit/unet.h"

namespace segkit::unet {

// Soft Dice over the whole batch, per class: 1 − Σ_c w_c · dice_c / Σ_c w_c with
// dice_c = (2·Σ p·y + ε) / (Σ p + Σ y + ε), p = softmax(logits), y = one-hot(target).
at::Tensor dice_loss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& class_weights = {});

// Cross-entropy (class-weighted when weights are given), Dice, or their sum.
at::Tensor segmentation_loss(UNetLoss kind, const at::Tensor& logits, const at::Tensor& target,
                             const at::Tensor& class_weights = {});

}  // namespace segkit::unet
