#pragma once
// One layer of Mask2Former's pixel-decoder encoder: deformable self-attention over all levels,
// then a ReLU feed-forward block, each with a residual connection followed by its LayerNorm
// (post-norm).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/deformable_sampling.h"
#include "models/mask2former/deformable_attention.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::mask2former {

class DeformableEncoderLayer {
 public:
  // prefix: "….encoder.layers.N." (self_attn, self_attn_layer_norm, fc1, fc2, final_layer_norm).
  static DeformableEncoderLayer load(const nn::WeightMap& w, const std::string& prefix, int64_t hidden_dim,
                                     int64_t feedforward_dim, int64_t heads, int levels, int points);

  // states: B×S×d; position: B×S×d or 1×S×d (added to the queries only); reference_points: S×2.
  at::Tensor operator()(const at::Tensor& states, const at::Tensor& position, const at::Tensor& reference_points,
                        const std::vector<kernels::LevelShape>& levels) const;
  // The same in place on contiguous float32 states (every sum and norm writes into them). Where
  // the products are not float32, `compute_copy` carries the states in their type: the previous
  // layer's when defined (made here otherwise), then this layer's, from its last norm's pass.
  void update_(const at::Tensor& states, at::Tensor& compute_copy, const at::Tensor& position,
               const at::Tensor& reference_points, const std::vector<kernels::LevelShape>& levels) const;

  const DeformableAttention& self_attention() const { return self_attn_; }
  // The products in `type` (DeformableAttention::prepare_products, the feed-forward block); the
  // residual stream and norms stay float32. `rows`: the token count the packing is chosen for.
  void prepare_products(at::ScalarType type, int64_t rows);

 private:
  DeformableAttention self_attn_;
  nn::LayerNorm self_attn_layer_norm_, final_layer_norm_;
  nn::Linear fc1_, fc2_;
  at::ScalarType compute_ = at::kFloat;
};

}  // namespace segkit::mask2former
