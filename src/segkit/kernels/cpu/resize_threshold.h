#pragma once
// A bilinear resize (ATen's upsample_bilinear2d, align_corners=False) followed by a threshold,
// one channel at a time, in one pass: SAM 3's instance masks, each a low-resolution probability
// map resized to the photo and compared with the mask threshold, with no full-size float plane
// in between. Each output row blends two source rows that were interpolated along x once and
// kept, which is the order of ATen's generic kernel's arithmetic (kernels/cpu/resize_argmax.h),
// so the decisions equal upsample_bilinear2d(values[None]) > threshold for two or more channels.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::kernels {

// True when resize_threshold runs here for values on `device` (as resize_argmax_available).
bool resize_threshold_available(const at::Device& device = at::kCPU);

// values: K×h×w float32 → K×height×width bool, bilinear then strictly above `threshold` (NaN is
// not above). Requires resize_threshold_available().
at::Tensor resize_threshold(const at::Tensor& values, int64_t height, int64_t width, float threshold);

}  // namespace segkit::kernels
