#include "models/mask2former/checked_layers.h"

#include <ATen/ops/group_norm.h>

namespace segkit::mask2former {

nn::Linear load_linear(const nn::WeightMap& w, const std::string& name, int64_t in_features, int64_t out_features) {
  w.get(name + ".weight", {out_features, in_features});
  return nn::Linear::load(w, name);
}

nn::LayerNorm load_layer_norm(const nn::WeightMap& w, const std::string& name, int64_t dim, double eps) {
  w.get(name + ".weight", {dim});
  return nn::LayerNorm::load(w, name, eps);
}

nn::Conv2d load_conv2d(const nn::WeightMap& w, const std::string& name, int64_t in_channels, int64_t out_channels,
                       int64_t kernel, bool with_bias) {
  w.get(name + ".weight", {out_channels, in_channels, kernel, kernel});
  return nn::Conv2d::load(w, name, with_bias, /*stride=*/1, /*padding=*/kernel / 2);
}

GroupNorm GroupNorm::load(const nn::WeightMap& w, const std::string& name, int64_t channels, int64_t groups,
                          double eps) {
  GroupNorm n;
  n.weight = w.get(name + ".weight", {channels});
  n.bias = w.get(name + ".bias", {channels});
  n.groups = groups;
  n.eps = eps;
  return n;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const { return at::group_norm(x, groups, weight, bias, eps); }

}  // namespace segkit::mask2former
