#pragma once
// A bilinear resize (ATen's upsample_bilinear2d, align_corners=False) fused with the argmax over
// channels that follows it in segmentation post-processing: each output pixel interpolates its K
// channels from four source pixels and keeps the running maximum, with no K×H×W stack in between.
// The interpolated values are bit-identical to ATen's CPU kernel for float32 NCHW with K ≥ 2
// channels (its generic kernel, not the channels-last one it takes for a single channel).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace segkit::kernels {

// One output index along one axis: its two source indices and their weights, as ATen computes them.
struct BilinearTap {
  int64_t first = 0, second = 0;
  float first_weight = 1.0f, second_weight = 0.0f;
};
std::vector<BilinearTap> bilinear_taps(int64_t input_size, int64_t output_size);

// How ATen's float32 kernel combines the four source values: its AVX2 and AVX-512 builds were
// compiled with FMA contraction (row0 = fma(v00, w0, v01·w1), row1 likewise, then
// fma(row0, h0, row1·h1)), its baseline build was not (v00·w0 + v01·w1, …).
enum class BilinearArithmetic { fused, separate };

// Which of the two this process's ATen uses, found once by resizing a small fixed input with it;
// false where it matches neither (a LibTorch built otherwise): callers then resize with ATen.
bool aten_bilinear_arithmetic(BilinearArithmetic& arithmetic);

// True when resize_argmax runs here for values on `device`: the CPU (and the ATen path not
// forced: kernels/aten_path.h), an AVX-512 CPU (core/cpu_features.h) and a known ATen arithmetic.
bool resize_argmax_available(const at::Device& device = at::kCPU);

// values: h×w×K float32 (channels last, K ≥ 2). Each channel is resized to height×width as
// at::upsample_bilinear2d does, multiplied by scale[c] where `scale` (K float32) is defined, and
// the first channel of the largest value per pixel is returned (height×width int32; torch's argmax:
// the earliest of equal values, the earliest NaN before anything). Where `counts` is given, counts[c]
// gets the number of pixels whose (scaled) value of channel c is ≥ count_threshold.
// Requires resize_argmax_available().
at::Tensor resize_argmax(const at::Tensor& values, int64_t height, int64_t width, const at::Tensor& scale = {},
                         float count_threshold = 0.0f, std::vector<int64_t>* counts = nullptr);

// resize_argmax for values made a band of source rows at a time (each band's next steps run while
// it is in cache, with no h×w×K tensor): the output rows whose upper source row lies in a band are
// computed from that band, which must hold the row after it too (where there is one). `rows` may
// be called from several threads at once for different output rows. Requires
// resize_argmax_available().
class BandedResizeArgmax {
 public:
  // Source h×w×K (K ≥ 2) to height×width; `scale` (K float32, may be null, kept by the caller)
  // and `count_threshold` as in resize_argmax.
  BandedResizeArgmax(int64_t in_height, int64_t in_width, int64_t channels, int64_t height, int64_t width,
                     const float* scale = nullptr, float count_threshold = 0.0f);

  // The output rows [first, second) whose upper source row lies in [source_begin, source_end).
  std::pair<int64_t, int64_t> output_rows(int64_t source_begin, int64_t source_end) const;
  // The source rows [first, second) that output rows [begin, end) read (begin < end).
  std::pair<int64_t, int64_t> source_rows(int64_t begin, int64_t end) const;

  // Labels of output rows [begin, end) into labels (height×width, row-major), from `band`: source
  // rows [band_first, band_first + band_rows), band_rows × w × K float32. Where counts is given
  // (K int64), counts[c] += the pixels of these rows at or above the threshold.
  void rows(const float* band, int64_t band_first, int64_t band_rows, int64_t begin, int64_t end, int32_t* labels,
            int64_t* counts = nullptr) const;

 private:
  int64_t in_width_, channels_, width_;
  std::vector<BilinearTap> rows_, cols_;
  const float* scale_;
  float count_threshold_;
  BilinearArithmetic arithmetic_ = BilinearArithmetic::fused;
};

// For tests: every interpolated value, height×width×K, computed by the same vector code as
// resize_argmax (no scale). Requires resize_argmax_available().
at::Tensor resize_values(const at::Tensor& values, int64_t height, int64_t width);

}  // namespace segkit::kernels
