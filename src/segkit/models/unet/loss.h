#pragma once
// Training losses on logits N × C × H × W and class-index targets N × H × W (int64).
#include <ATen/core/Tensor.h>

#include "segkit/unet.h"

namespace segkit::unet {

// Soft Dice over the whole batch, per class: 1 − Σ_c w_c · dice_c / Σ_c w_c with
// dice_c = (2·Σ p·y + ε) / (Σ p + Σ y + ε), p = softmax(logits), y = one-hot(target).
at::Tensor dice_loss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& class_weights = {});

// Cross-entropy, Dice, or their sum. The cross-entropy is class-weighted when class_weights
// are given and weighted per pixel (N × H × W) when pixel_weights are: Σ w·ce / Σ w, w the
// product of the pixel's weights (PyTorch's weighted mean when all pixel weights are 1).
at::Tensor segmentation_loss(UNetLoss kind, const at::Tensor& logits, const at::Tensor& target,
                             const at::Tensor& class_weights = {}, const at::Tensor& pixel_weights = {});

}  // namespace segkit::unet
