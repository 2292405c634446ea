#include "models/mask2former/deformable_encoder_layer.h"

#include <ATen/TensorOperators.h>

#include <algorithm>

#include "kernels/cpu/add_as.h"
#include "kernels/cpu/layer_norm.h"
#include "nn/checked_layers.h"
#include "segkit/error.h"

namespace segkit::mask2former {

namespace {
constexpr int64_t kFeedForwardRows = 4096;  // rows of the feed-forward block per band
}  // namespace

DeformableEncoderLayer DeformableEncoderLayer::load(const nn::WeightMap& w, const std::string& prefix,
                                                    int64_t hidden_dim, int64_t feedforward_dim, int64_t heads,
                                                    int levels, int points) {
  constexpr double eps = 1e-5;  // torch.nn.LayerNorm's default
  DeformableEncoderLayer l;
  l.self_attn_ = DeformableAttention::load(w, prefix + "self_attn.", hidden_dim, heads, levels, points);
  l.self_attn_layer_norm_ = load_layer_norm(w, prefix + "self_attn_layer_norm", hidden_dim, eps);
  l.fc1_ = load_linear(w, prefix + "fc1", hidden_dim, feedforward_dim);
  l.fc2_ = load_linear(w, prefix + "fc2", feedforward_dim, hidden_dim);
  l.final_layer_norm_ = load_layer_norm(w, prefix + "final_layer_norm", hidden_dim, eps);
  return l;
}

at::Tensor DeformableEncoderLayer::operator()(const at::Tensor& states, const at::Tensor& position,
                                              const at::Tensor& reference_points,
                                              const std::vector<kernels::LevelShape>& levels) const {
  const at::Tensor out = states.clone(at::MemoryFormat::Contiguous);
  at::Tensor copy;
  update_(out, copy, position, reference_points, levels);
  return out;
}

void DeformableEncoderLayer::update_(const at::Tensor& states, at::Tensor& compute_copy, const at::Tensor& position,
                                     const at::Tensor& reference_points,
                                     const std::vector<kernels::LevelShape>& levels) const {
  if (!states.is_contiguous() || states.scalar_type() != at::kFloat)
    fail("deformable encoder layer", "the states must be contiguous float32");
  const bool narrow = compute_ != at::kFloat;
  // The queries straight in the products' type; the values from the states' copy in it.
  const at::Tensor query = kernels::add_as(states, position, compute_);
  const at::Tensor values = !narrow ? states : compute_copy.defined() ? compute_copy : states.to(compute_);
  self_attn_.accumulate(states, query, values, reference_points, levels);
  const at::Tensor normed = kernels::layer_norm_(states, self_attn_layer_norm_.weight, self_attn_layer_norm_.bias,
                                                 self_attn_layer_norm_.eps, compute_);
  // states += ffn(states) in place, a band of rows at a time: the hidden layer (1024 wide) never
  // exists whole, and each band's rows are read whole (into the hidden layer) before they are
  // written. In bfloat16 fc1 reads the norm's copy.
  const at::Tensor rows = states.view({-1, states.size(-1)});
  const at::Tensor inputs = narrow ? normed.view({-1, states.size(-1)}) : rows;
  for (int64_t r = 0; r < rows.size(0); r += kFeedForwardRows) {
    const int64_t n = std::min(kFeedForwardRows, rows.size(0) - r);
    fc2_.accumulate(rows.narrow(0, r, n), fc1_.relu(inputs.narrow(0, r, n)));
  }
  compute_copy = kernels::layer_norm_(states, final_layer_norm_.weight, final_layer_norm_.bias, final_layer_norm_.eps,
                                      compute_);
}

void DeformableEncoderLayer::prepare_products(at::ScalarType type, int64_t rows) {
  self_attn_.prepare_products(type, rows);
  fc1_.prepare(type, rows);
  fc2_.prepare(type, rows);
  compute_ = type;
}

}  // namespace segkit::mask2former
