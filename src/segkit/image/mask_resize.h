#pragma once
// Upstream's mask postprocessing (bilinear to the model's square input, crop to the resized
// image, bilinear to the original size) as one separable resampling: the two bilinear steps
// and the crop compose, per axis, into a map from each output row (column) to at most four
// consecutive low-res rows (columns). Upscaling a 256² mask to 1200×1800 then costs about four
// multiply-adds per output pixel instead of two full-size bilinear passes and an intermediate
// 1024² plane; values agree with the two-step result to float rounding.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace segkit::sam {

// Per output index: the first source index and its weights (taps consecutive sources).
struct ResizeTaps {
  int taps = 0;
  std::vector<int32_t> first;
  std::vector<float> weights;  // output × taps
};

// PyTorch's bilinear (align_corners=False) from `in` to `mid`, keeping indices [0, keep), then
// bilinear from `keep` to `out`, composed.
ResizeTaps compose_bilinear(int in, int mid, int keep, int out);

// low_res: float CPU planes (…×h×w, contiguous) → …×original_size; the pipeline of
// postprocess_masks. Other dtypes and devices are not handled here (returns undefined).
at::Tensor resize_mask_logits(const at::Tensor& low_res, int image_size, std::array<int, 2> input_size,
                              std::array<int, 2> original_size);

}  // namespace segkit::sam
