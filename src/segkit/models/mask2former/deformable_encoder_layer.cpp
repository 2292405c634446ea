#include "models/mask2former/deformable_encoder_layer.h"

#include <ATen/TensorOperators.h>

#include <algorithm>

#include "nn/checked_layers.h"

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
  const at::Tensor attended = self_attn_(states + position, states, reference_points, levels).output;
  const at::Tensor h = self_attn_layer_norm_(states + attended, at::kFloat);
  // h += ffn(h) in place, a band of rows at a time: the hidden layer (1024 wide) never exists
  // whole, and each band's rows are read whole (into the hidden layer) before they are written.
  const at::Tensor rows = h.view({-1, h.size(2)});
  for (int64_t r = 0; r < rows.size(0); r += kFeedForwardRows) {
    const at::Tensor band = rows.narrow(0, r, std::min(kFeedForwardRows, rows.size(0) - r));
    fc2_.accumulate(band, fc1_.relu(band.to(compute_)));
  }
  return final_layer_norm_(h, at::kFloat);
}

void DeformableEncoderLayer::prepare_products(at::ScalarType type, int64_t rows) {
  self_attn_.prepare_products(type, rows);
  fc1_.prepare(type, rows);
  fc2_.prepare(type, rows);
  compute_ = type;
}

}  // namespace segkit::mask2former
