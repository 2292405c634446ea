#include "models/sam/prompt_encoder.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cos.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>

#include <cmath>

namespace segkit::sam {

PromptEncoder PromptEncoder::load(const nn::WeightMap& w, const SamConfig& c) {
  PromptEncoder p;
  const int64_t C = c.out_chans;
  p.gaussian_matrix = w.get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, C / 2});
  for (int i = 0; i < 4; ++i)
    p.point_embeddings.push_back(w.get("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight", {1, C}));
  p.not_a_point = w.get("prompt_encoder.not_a_point_embed.weight", {1, C});
  p.no_mask = w.get("prompt_encoder.no_mask_embed.weight", {1, C});
  const int64_t m4 = c.mask_in_chans / 4, m = c.mask_in_chans;
  p.mask_conv1 = nn::Conv2d::load(w, "prompt_encoder.mask_downscaling.0", true, 2, 0);
  w.get("prompt_encoder.mask_downscaling.0.weight", {m4, 1, 2, 2});
  p.mask_norm1 = nn::LayerNorm2d::load(w, "prompt_encoder.mask_downscaling.1");
  p.mask_conv2 = nn::Conv2d::load(w, "prompt_encoder.mask_downscaling.3", true, 2, 0);
  w.get("prompt_encoder.mask_downscaling.3.weight", {m, m4, 2, 2});
  p.mask_norm2 = nn::LayerNorm2d::load(w, "prompt_encoder.mask_downscaling.4");
  p.mask_conv3 = nn::Conv2d::load(w, "prompt_encoder.mask_downscaling.6", true, 1, 0);
  w.get("prompt_encoder.mask_downscaling.6.weight", {C, m, 1, 1});
  p.image_size = c.image_size;
  p.grid = c.embedding_size();
  return p;
}

at::Tensor PromptEncoder::encode_coords(const at::Tensor& normalized) const {
  at::Tensor coords = at::matmul(2 * normalized - 1, gaussian_matrix);
  coords = coords * (2 * M_PI);
  return at::cat({at::sin(coords), at::cos(coords)}, -1);
}

at::Tensor PromptEncoder::dense_pe() const {
  at::Tensor grid_ones = at::ones({grid, grid}, gaussian_matrix.options());
  at::Tensor y = (grid_ones.cumsum(0) - 0.5) / grid;
  at::Tensor x = (grid_ones.cumsum(1) - 0.5) / grid;
  at::Tensor pe = encode_coords(at::stack({x, y}, -1));  // g×g×C
  return pe.permute({2, 0, 1}).unsqueeze(0);
}

std::pair<at::Tensor, at::Tensor> PromptEncoder::forward(const at::Tensor& points, const at::Tensor& labels,
                                                         const at::Tensor& boxes, const at::Tensor& masks) const {
  const int64_t C = not_a_point.size(1);
  int64_t bs = 1;
  if (points.defined()) bs = points.size(0);
  else if (boxes.defined()) bs = boxes.size(0);
  else if (masks.defined()) bs = masks.size(0);

  std::vector<at::Tensor> sparse;
  if (points.defined()) {
    at::Tensor pts = points + 0.5;  // shift to pixel centres
    at::Tensor lab = labels;
    if (!boxes.defined()) {  // a padding point stands in for the missing box
      pts = at::cat({pts, at::zeros({bs, 1, 2}, pts.options())}, 1);
      lab = at::cat({lab, -at::ones({bs, 1}, lab.options())}, 1);
    }
    at::Tensor e = encode_coords(pts / static_cast<double>(image_size));
    at::Tensor l = lab.unsqueeze(-1);
    e = at::where(l == -1, not_a_point.expand_as(e), e);
    e = at::where(l == 0, e + point_embeddings[0], e);
    e = at::where(l == 1, e + point_embeddings[1], e);
    sparse.push_back(e);
  }
  if (boxes.defined()) {
    at::Tensor corners = (boxes + 0.5).reshape({-1, 2, 2});
    at::Tensor e = encode_coords(corners / static_cast<double>(image_size));
    at::Tensor first = e.select(1, 0) + point_embeddings[2];
    at::Tensor second = e.select(1, 1) + point_embeddings[3];
    sparse.push_back(at::stack({first, second}, 1));
  }
  at::Tensor sparse_all = sparse.empty() ? at::empty({bs, 0, C}, not_a_point.options()) : at::cat(sparse, 1);

  at::Tensor dense;
  if (masks.defined()) {
    at::Tensor m = at::gelu(mask_norm1(mask_conv1(masks)));
    m = at::gelu(mask_norm2(mask_conv2(m)));
    dense = mask_conv3(m);
  } else {
    dense = no_mask.reshape({1, -1, 1, 1}).expand({bs, -1, grid, grid});
  }
  return {sparse_all, dense};
}

}  // namespace segkit::sam
