#pragma once
// Fast equivalents of two ATen layers that are slow on CPU in the U-Net's shapes (tested equal
// to at::conv2d / at::conv_transpose2d in unet_model_test.cpp).
#include <ATen/core/Tensor.h>

namespace segkit::unet {

// at::conv2d(x, weight, bias, stride 1, padding pad) for a 3×3 kernel and few input channels.
at::Tensor narrow_input_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t pad);

// at::conv_transpose2d(x, weight, bias, stride 2) for a 2×2 kernel; result in channels-last memory.
at::Tensor up_convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace segkit::unet
