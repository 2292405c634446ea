#include "models/mask2former/checked_layers.h"

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

nn::GroupNorm load_group_norm(const nn::WeightMap& w, const std::string& name, int64_t channels, int64_t groups,
                              double eps) {
  w.get(name + ".weight", {channels});
  return nn::GroupNorm::load(w, name, groups, eps);
}

}  // namespace segkit::mask2former
