#include "models/sam3/checked_layers.h"

#include <ATen/ops/cat.h>

namespace segkit::sam3 {

nn::Linear load_linear(const nn::WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features,
                       bool with_bias) {
  w.get(name + ".weight", {out_features, in_features});
  return nn::Linear::load(w, name, with_bias);
}

nn::Linear load_stacked_qkv(const nn::WeightMap& w, const std::string& name, int64_t width) {
  const nn::Linear q = load_linear(w, name + ".q_proj", width, width);
  const nn::Linear k = load_linear(w, name + ".k_proj", width, width);
  const nn::Linear v = load_linear(w, name + ".v_proj", width, width);
  nn::Linear qkv;
  qkv.weight = at::cat({q.weight, k.weight, v.weight}, 0);
  qkv.bias = at::cat({q.bias, k.bias, v.bias}, 0);
  return qkv;
}

nn::LayerNorm load_layer_norm(const nn::WeightMap& w, const std::string& name, int64_t dim, double eps) {
  w.get(name + ".weight", {dim});
  return nn::LayerNorm::load(w, name, eps);
}

nn::Conv2d load_conv2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                       int64_t kernel) {
  w.get(name + ".weight", {out_channels, in_channels, kernel, kernel});
  return nn::Conv2d::load(w, name, /*with_bias=*/true, /*stride=*/1, /*padding=*/kernel / 2);
}

nn::ConvTranspose2d load_conv_transpose2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels,
                                          int64_t out_channels) {
  w.get(name + ".weight", {in_channels, out_channels, 2, 2});  // ConvTranspose2d stores in × out
  return nn::ConvTranspose2d::load(w, name, /*stride=*/2);
}

}  // namespace segkit::sam3
