#pragma once
// SAM 3's axial 2-D rotary position embedding for the ViT: channel pairs 0..d/4−1 rotate with
// the token's column, the rest with its row, each pair (2i, 2i+1) as a 2-D rotation.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::sam3 {

struct AxialRope {
  // (side·side) × head_dim float32, the tables transformers keeps as rope_embeddings_{cos,sin},
  // made on the host (to_device moves them where the layer runs).
  at::Tensor cos, sin;

  // Tokens of a side × side grid, row-major; positions are multiplied by `scale` (1 in windowed
  // layers, window / grid side in global ones, so that both span the same range).
  static AxialRope make(int64_t side, double scale, int64_t head_dim, double theta);
  void to_device(const at::Device& device);

  // Off the CPU (or with the ATen path forced) both rotate with ATen's operators.

  // Rotates x in place: x is B × N × heads × head_dim (any strides, head_dim unit-stride),
  // N = side², float32.
  void apply_(const at::Tensor& x) const;
  // The same over a whole token grid: x is B × H × W × heads × head_dim (any strides, head_dim
  // unit-stride), float32; token (y, x) takes row (y mod side)·side + (x mod side), its place in
  // its side × side window (the whole grid when H = W = side).
  void apply_grid_(const at::Tensor& x) const;
};

}  // namespace segkit::sam3
