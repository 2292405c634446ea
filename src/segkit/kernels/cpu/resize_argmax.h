#pragma once
// A bilinear resize (ATen's upsample_bilinear2d, align_corners=False) fused with the argmax over
// channels that follows it in segmentation post-processing: each output pixel interpolates its K
// channels from four source pixels and keeps the running maximum, with no K×H×W stack in between.
// The interpolated values are bit-identical to ATen's CPU kernel for float32 NCHW with K ≥ 2
// channels (its generic kernel, not the channels-last one it takes for a single channel).
#include <ATen/core/Tensor.h>

#include <cstdint>
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

// For tests: every interpolated value, height×width×K, computed by the same vector code as
// resize_argmax (no scale). Requires resize_argmax_available().
at::Tensor resize_values(const at::Tensor& values, int64_t height, int64_t width);

}  // namespace segkit::kernels
