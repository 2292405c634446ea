#pragma once
// out += bilinear upsampling of x to out's size (align_corners=False, as ATen's
// upsample_bilinear2d computes it), in one pass over channels-last maps: the FPN's top-down
// step without the upsampled temporary.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// out: B × C × H × W, x: B × C × h × w. Both float32 channels-last on the CPU take the kernel;
// anything else (another layout, dtype or device, or the ATen path forced) ATen's
// upsample_bilinear2d and add_.
void add_upsampled_bilinear_(const at::Tensor& out, const at::Tensor& x);

}  // namespace segkit::kernels
