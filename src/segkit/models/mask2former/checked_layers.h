#pragma once
// Layer loaders for Mask2Former that check every tensor's shape against the configuration, so a
// checkpoint of another size fails at load time naming the tensor, not inside a product later.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::mask2former {

// `name` is the layer's prefix without the trailing dot ("….fc1").
nn::Linear load_linear(const nn::WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features);
nn::LayerNorm load_layer_norm(const nn::WeightMap& w, const std::string& name, int64_t dim, double eps);
// kernel×kernel, stride 1, "same" padding (kernel / 2).
nn::Conv2d load_conv2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                       int64_t kernel, bool with_bias);

nn::GroupNorm load_group_norm(const nn::WeightMap& w, const std::string& name, int64_t channels, int64_t groups,
                              double eps);

}  // namespace segkit::mask2former
