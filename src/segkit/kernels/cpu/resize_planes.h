#pragma once
// Bilinear resizing of planar channels (ATen's upsample_bilinear2d, align_corners=False), row by
// row: each output row blends two source rows that were interpolated along x once and kept while
// the next output rows share them, which is the order of ATen's generic kernel's arithmetic
// (kernels/cpu/resize_argmax.h), so every value equals upsample_bilinear2d's for two or more
// channels. Two uses: a threshold fused into the pass (SAM 3's instance masks at the photo's size,
// with no float plane), and bands of rows that a caller processes while they are in cache
// (Mask2Former's post-processing at 384×384).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu/resize_argmax.h"

namespace segkit::kernels {

// True when the functions below run here for values on `device` (as resize_argmax_available).
bool resize_planes_available(const at::Device& device = at::kCPU);

// values: K×h×w float32 → K×height×width bool, bilinear then strictly above `threshold` (NaN is
// not above). Requires resize_planes_available().
at::Tensor resize_threshold(const at::Tensor& values, int64_t height, int64_t width, float threshold);

// The resize of K×h×w float32 values to height×width, a band of output rows at a time, so that a
// caller can run the next steps on each band in parallel without a K×height×width tensor. Holds
// the values (contiguous) and the taps; `rows` may be called from several threads at once.
// Requires resize_planes_available().
class PlaneResize {
 public:
  PlaneResize(const at::Tensor& values, int64_t height, int64_t width);

  int64_t channels() const { return values_.size(0); }
  int64_t height() const { return static_cast<int64_t>(rows_.size()); }
  int64_t width() const { return static_cast<int64_t>(first_.size()); }

  // Output rows [begin, end) of every channel into out: channel c's rows at out + c · channel_stride
  // (by default (end − begin) · width: K × (end − begin) × width, contiguous), each row `width`
  // floats after the last.
  void rows(int64_t begin, int64_t end, float* out, int64_t channel_stride = 0) const;

  // Output rows [begin, end) of channel c, 1 where strictly above `threshold` (NaN is not), else
  // 0, into out: (end − begin) × width bytes.
  void rows_above(int64_t c, int64_t begin, int64_t end, float threshold, uint8_t* out) const;

 private:
  at::Tensor values_;
  BilinearArithmetic arithmetic_ = BilinearArithmetic::fused;
  std::vector<BilinearTap> rows_;
  std::vector<int32_t> first_, second_;  // per output column: its two source columns and weights
  std::vector<float> first_weight_, second_weight_;
};

}  // namespace segkit::kernels
