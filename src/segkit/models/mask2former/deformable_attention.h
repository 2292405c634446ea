#pragma once
// Mask2Former's multi-scale deformable attention (Deformable DETR's, as in the pixel decoder's
// encoder): from its query, every position predicts a few sampling offsets per head and level
// around its reference point, and a softmax weight per sampled point (joint over levels and
// points); the values are the projected input states, read by bilinear sampling.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/deformable_sampling.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::mask2former {

struct DeformableAttentionOutput {
  at::Tensor output;             // B×Q×d, after output_proj
  at::Tensor attention_weights;  // B×Q×heads×levels×points, after the softmax
};

class DeformableAttention {
 public:
  // prefix: "….self_attn." (sampling_offsets, attention_weights, value_proj, output_proj).
  static DeformableAttention load(const nn::WeightMap& w, const std::string& prefix, int64_t hidden_dim,
                                  int64_t heads, int levels, int points);

  // query: B×Q×d (states plus position embedding); states: B×S×d, the levels of `levels`
  // flattened and concatenated; reference_points: Q×2 normalised (x, y), the same for every
  // level and batch item (no padding, so transformers' valid ratios are all 1).
  DeformableAttentionOutput operator()(const at::Tensor& query, const at::Tensor& states,
                                       const at::Tensor& reference_points,
                                       const std::vector<kernels::LevelShape>& levels) const;
  // residual += operator()(…).output, the output projection summing into residual (float32,
  // B×Q×d; it may be `states`: the values are projected before it is written). query and states
  // may already be in the products' type.
  void accumulate(const at::Tensor& residual, const at::Tensor& query, const at::Tensor& states,
                  const at::Tensor& reference_points, const std::vector<kernels::LevelShape>& levels) const;
  // The four projections packed for `type` (nn::Linear::prepare). In bfloat16 the value and the
  // sampled output are stored in bfloat16; the offsets and weights' logits (written float32 by
  // their products), the softmax, the sampling locations and the sampling's sums stay float32.
  void prepare_products(at::ScalarType type, int64_t rows);

 private:
  // The sampled values before the output projection; the attention weights into `weights` when set.
  at::Tensor sample(const at::Tensor& query, const at::Tensor& states, const at::Tensor& reference_points,
                    const std::vector<kernels::LevelShape>& levels, at::Tensor* weights) const;

  nn::Linear sampling_offsets_, attention_weights_, value_proj_, output_proj_;
  int64_t heads_ = 0;
  int levels_ = 0, points_ = 0;
  at::ScalarType compute_ = at::kFloat;
};

}  // namespace segkit::mask2former
