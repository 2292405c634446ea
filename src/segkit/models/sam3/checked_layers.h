#pragma once
// SAM 3's layer loaders: every tensor's shape checked against the configuration, so that a
// checkpoint of another size fails at load time naming the tensor, not inside a product later.
#include <cstdint>
#include <string>

#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

// `name` is the layer's prefix without the trailing dot ("….fc1").
nn::Linear load_linear(const nn::WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features,
                       bool with_bias = true);
// q_proj, k_proj and v_proj under `name` stacked into one in → 3·out product (rows q, then k, then v).
nn::Linear load_stacked_qkv(const nn::WeightMap& w, const std::string& name, int64_t width);
nn::LayerNorm load_layer_norm(const nn::WeightMap& w, const std::string& name, int64_t dim, double eps);
// kernel×kernel, stride 1, "same" padding (kernel / 2).
nn::Conv2d load_conv2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                       int64_t kernel);
// kernel 2, stride 2.
nn::ConvTranspose2d load_conv_transpose2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels,
                                          int64_t out_channels);

}  // namespace segkit::sam3
