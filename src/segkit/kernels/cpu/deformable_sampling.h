#pragma once
// The sampling core of multi-scale deformable attention (Deformable DETR, Mask2Former's pixel
// decoder): every query reads a few bilinearly interpolated points per head and level of a
// flattened multi-level feature map and sums them with its attention weights.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace segkit::kernels {

struct LevelShape {
  int64_t height = 0, width = 0;
};

// value: B×S×heads×dh float32 or bfloat16, S = Σ height·width, the levels flattened row-major
// and concatenated in the order of `levels`. sampling_locations: B×Q×heads×L×P×2 normalised
// (x, y), (0, 0) the top-left corner of the map and (1, 1) the bottom-right one; points outside
// read zeros. attention_weights: B×Q×heads×L×P. Returns B×Q×(heads·dh), head-major, in the
// value's type: sums in float32, rounded once to bfloat16 for a bfloat16 value.
// On another device, or with the ATen path forced (kernels/aten_path.h), ATen's grid_sample computes
// it level by level. Each sample is grid_sample(bilinear, zeros padding, align_corners=false) at
// 2·location − 1:
// pixel (x·W − 0.5, y·H − 0.5), neighbours outside the map contribute 0, no renormalisation.
at::Tensor deformable_sampling(const at::Tensor& value, const std::vector<LevelShape>& levels,
                               const at::Tensor& sampling_locations, const at::Tensor& attention_weights);

// Multi-scale deformable attention's sampling from the layer's own outputs, combined as
// transformers combines them: locations = reference + offsets / (W_l, H_l) and weights =
// softmax of each head's L·P logits. offsets: B×Q×heads×L×P×2 in pixels of their level;
// reference: Q×2 normalised (x, y), the same for every image; logits: B×Q×heads×L×P. Returns
// deformable_sampling's B×Q×(heads·dh) and, where weights is not null, sets it to the
// B×Q×heads×L×P weights. The hand-written kernel makes locations and weights per query and
// head as it samples, with no tensors for them.
at::Tensor deformable_attention_sampling(const at::Tensor& value, const std::vector<LevelShape>& levels,
                                         const at::Tensor& offsets, const at::Tensor& reference,
                                         const at::Tensor& logits, at::Tensor* weights = nullptr);

}  // namespace segkit::kernels
