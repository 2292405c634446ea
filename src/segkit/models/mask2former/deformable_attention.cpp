#include "models/mask2former/deformable_attention.h"

#include <ATen/TensorOperators.h>

#include "nn/checked_layers.h"
#include "segkit/error.h"

namespace segkit::mask2former {

DeformableAttention DeformableAttention::load(const nn::WeightMap& w, const std::string& prefix, int64_t hidden_dim,
                                              int64_t heads, int levels, int points) {
  if (heads <= 0 || hidden_dim % heads != 0)
    fail(w.source(), "deformable attention: hidden size " + std::to_string(hidden_dim) + " does not split into " +
                         std::to_string(heads) + " heads");
  DeformableAttention a;
  const int64_t samples = heads * levels * points;
  a.sampling_offsets_ = load_linear(w, prefix + "sampling_offsets", hidden_dim, samples * 2);
  a.attention_weights_ = load_linear(w, prefix + "attention_weights", hidden_dim, samples);
  a.value_proj_ = load_linear(w, prefix + "value_proj", hidden_dim, hidden_dim);
  a.output_proj_ = load_linear(w, prefix + "output_proj", hidden_dim, hidden_dim);
  a.heads_ = heads;
  a.levels_ = levels;
  a.points_ = points;
  return a;
}

at::Tensor DeformableAttention::sample(const at::Tensor& query, const at::Tensor& states,
                                       const at::Tensor& reference_points,
                                       const std::vector<kernels::LevelShape>& levels, at::Tensor* weights) const {
  if (int64_t(levels.size()) != levels_)
    fail("deformable attention", "expects " + std::to_string(levels_) + " levels, got " + std::to_string(levels.size()));
  const int64_t batch = query.size(0), queries = query.size(1);
  // In bfloat16 the value and the sampled output stay bfloat16 (the sampling sums in float32).
  const at::Tensor value = value_proj_(states.to(compute_)).view({batch, states.size(1), heads_, -1});

  // Offsets in pixels of their level and the weights' logits, float32 from any product (bfloat16's
  // rounding would move a sample by up to 0.4% of its offset); the sampling makes locations and
  // weights of them as it goes.
  const at::Tensor query_in = query.to(compute_);
  const at::Tensor offsets = sampling_offsets_.float32(query_in).view({batch, queries, heads_, levels_, points_, 2});
  const at::Tensor logits = attention_weights_.float32(query_in).view({batch, queries, heads_, levels_, points_});
  return kernels::deformable_attention_sampling(value, levels, offsets, reference_points, logits, weights);
}

DeformableAttentionOutput DeformableAttention::operator()(const at::Tensor& query, const at::Tensor& states,
                                                          const at::Tensor& reference_points,
                                                          const std::vector<kernels::LevelShape>& levels) const {
  at::Tensor weights;
  const at::Tensor sampled = sample(query, states, reference_points, levels, &weights);
  return {output_proj_(sampled), weights};
}

void DeformableAttention::accumulate(const at::Tensor& residual, const at::Tensor& query, const at::Tensor& states,
                                     const at::Tensor& reference_points,
                                     const std::vector<kernels::LevelShape>& levels) const {
  output_proj_.accumulate(residual, sample(query, states, reference_points, levels, nullptr));
}

void DeformableAttention::prepare_products(at::ScalarType type, int64_t rows) {
  for (nn::Linear* l : {&sampling_offsets_, &attention_weights_, &value_proj_, &output_proj_}) l->prepare(type, rows);
  compute_ = type;
}

}  // namespace segkit::mask2former
