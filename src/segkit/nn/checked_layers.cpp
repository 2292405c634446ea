#include "nn/checked_layers.h"

#include <ATen/ops/cat.h>

namespace segkit::nn {

Linear load_linear(const WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features,
                   bool with_bias) {
  w.get(name + ".weight", {out_features, in_features});
  return Linear::load(w, name, with_bias);
}

Linear load_stacked_qkv(const WeightMap& w, const std::string& name, int64_t width) {
  const Linear q = load_linear(w, name + ".q_proj", width, width);
  const Linear k = load_linear(w, name + ".k_proj", width, width);
  const Linear v = load_linear(w, name + ".v_proj", width, width);
  Linear qkv;
  qkv.weight = at::cat({q.weight, k.weight, v.weight}, 0);
  qkv.bias = at::cat({q.bias, k.bias, v.bias}, 0);
  return qkv;
}

LayerNorm load_layer_norm(const WeightMap& w, const std::string& name, int64_t dim, double eps) {
  w.get(name + ".weight", {dim});
  return LayerNorm::load(w, name, eps);
}

GroupNorm load_group_norm(const WeightMap& w, const std::string& name, int64_t channels, int64_t groups, double eps) {
  w.get(name + ".weight", {channels});
  return GroupNorm::load(w, name, groups, eps);
}

Conv2d load_conv2d(const WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                   int64_t kernel, bool with_bias) {
  w.get(name + ".weight", {out_channels, in_channels, kernel, kernel});
  return Conv2d::load(w, name, with_bias, /*stride=*/1, /*padding=*/kernel / 2);
}

ConvTranspose2d load_conv_transpose2d(const WeightMap& w, const std::string& name, int64_t in_channels,
                                      int64_t out_channels) {
  w.get(name + ".weight", {in_channels, out_channels, 2, 2});  // ConvTranspose2d stores in × out
  return ConvTranspose2d::load(w, name, /*stride=*/2);
}

}  // namespace segkit::nn
