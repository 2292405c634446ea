#pragma once
// Layer loaders that check every tensor's shape against what the model's configuration implies,
// so that a checkpoint of another size fails at load time naming the tensor and file, not inside
// a product later. `name` is the layer's prefix without the trailing dot ("….fc1").
#include <cstdint>
#include <string>

#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::nn {

Linear load_linear(const WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features,
                   bool with_bias = true);
// q_proj, k_proj and v_proj under `name` stacked into one width → 3·width product (rows q, k, v).
Linear load_stacked_qkv(const WeightMap& w, const std::string& name, int64_t width);
LayerNorm load_layer_norm(const WeightMap& w, const std::string& name, int64_t dim, double eps);
GroupNorm load_group_norm(const WeightMap& w, const std::string& name, int64_t channels, int64_t groups, double eps);
// kernel×kernel, stride 1, "same" padding (kernel / 2).
Conv2d load_conv2d(const WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                   int64_t kernel, bool with_bias = true);
// kernel 2, stride 2.
ConvTranspose2d load_conv_transpose2d(const WeightMap& w, const std::string& name, int64_t in_channels,
                                      int64_t out_channels);

}  // namespace segkit::nn
