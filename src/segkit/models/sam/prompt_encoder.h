#pragma once
// SAM's prompt encoder: random-Fourier positional encoding of points and box corners, learned
// point-type embeddings, and a small conv net for low-res mask inputs (upstream prompt_encoder.py).
#include <ATen/core/Tensor.h>

#include <utility>
#include <vector>

#include "nn/layers.h"
#include "segkit/sam.h"

namespace segkit::sam {

struct PromptEncoder {
  at::Tensor gaussian_matrix;            // 2×(C/2)
  std::vector<at::Tensor> point_embeddings;  // 4 × (1×C): background, foreground, box corner 1, 2
  at::Tensor not_a_point, no_mask;       // 1×C
  nn::Conv2d mask_conv1, mask_conv2, mask_conv3;
  nn::LayerNorm2d mask_norm1, mask_norm2;
  int64_t image_size = 1024, grid = 64;

  static PromptEncoder load(const nn::WeightMap& w, const SamConfig& config);

  // Dense positional encoding of the embedding grid: 1×C×g×g.
  at::Tensor dense_pe() const;
  // points: B×N×2 (input frame) with labels B×N, or undefined; boxes: B×4 or undefined;
  // masks: B×1×4g×4g or undefined. Returns (sparse B×T×C, dense B×C×g×g).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& points, const at::Tensor& labels,
                                            const at::Tensor& boxes, const at::Tensor& masks) const;

 private:
  at::Tensor encode_coords(const at::Tensor& normalized) const;  // ...×2 in [0,1] → ...×C
};

}  // namespace segkit::sam
