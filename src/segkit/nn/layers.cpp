#include "nn/layers.h"

#include <ATen/ops/conv2d.h>
#include <ATen/ops/conv_transpose2d.h>
#include <ATen/ops/group_norm.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/sqrt.h>

#include "core/mapped_file.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/matmul.h"

namespace segkit::nn {

Linear Linear::load(const WeightMap& w, const std::string& prefix, bool with_bias) {
  Linear l;
  l.weight = w.get(prefix + ".weight");
  if (with_bias) l.bias = w.get(prefix + ".bias", {l.weight.size(0)});
  return l;
}

Linear Linear::of_convolution(const Conv2d& conv) {
  Linear l;
  l.weight = conv.weight.flatten(1);
  l.bias = conv.bias;
  return l;
}

void Linear::use_bfloat16(int64_t rows) {
  const at::Tensor fp32 = weight;
  weight = weight.to(at::kBFloat16);
  if (bias.defined()) bias = bias.to(at::kBFloat16);
  packed = kernels::PackedLinear::pack(weight, bias, rows);
  if (packed) weight = at::Tensor();
  // The float32 weights are mostly views of the checkpoint's file map: read once for the
  // conversion, their pages would stay resident beside the copy.
  if (fp32.device().is_cpu() && fp32.scalar_type() == at::kFloat)
    release_pages(fp32.data_ptr(), static_cast<size_t>(fp32.nbytes()));
}

void Linear::pack(int64_t rows) {
  if (packed || !weight.defined()) return;
  packed = kernels::PackedLinear::pack(weight, bias, rows);
  if (!packed) return;
  // As in use_bfloat16: the plain weights' file pages are not needed any more.
  if (weight.device().is_cpu()) release_pages(weight.data_ptr(), static_cast<size_t>(weight.nbytes()));
  weight = at::Tensor();
}

void Linear::prepare(at::ScalarType type, int64_t rows) {
  if (type == at::kBFloat16) use_bfloat16(rows);
  else pack(rows);
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  return packed ? (*packed)(x) : kernels::linear(x, weight, bias);
}

at::Tensor Linear::float32(const at::Tensor& x) const {
  return packed ? (*packed)(x, kernels::LinearActivation::kNone, at::kFloat) : kernels::linear(x, weight, bias).to(at::kFloat);
}

at::Tensor Linear::relu(const at::Tensor& x) const {
  return packed ? (*packed)(x, kernels::LinearActivation::kRelu) : kernels::linear(x, weight, bias).relu_();
}

at::Tensor Linear::gelu(const at::Tensor& x) const {
  return packed ? (*packed)(x, kernels::LinearActivation::kGelu) : kernels::linear_gelu(x, weight, bias);
}

void Linear::accumulate(const at::Tensor& y, const at::Tensor& x) const {
  if (!packed) kernels::linear_accumulate(y, x, weight, bias);
  else if (y.scalar_type() == at::kFloat) packed->accumulate(y, x);
  else y.add_((*packed)(x));
}

LayerNorm LayerNorm::load(const WeightMap& w, const std::string& prefix, double eps) {
  LayerNorm n;
  n.weight = w.get(prefix + ".weight");
  n.bias = w.get(prefix + ".bias", n.weight.sizes());
  n.eps = eps;
  return n;
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

at::Tensor LayerNorm::operator()(const at::Tensor& x, at::ScalarType out_type) const {
  return kernels::layer_norm(x, weight, bias, eps, out_type);
}

LayerNorm2d LayerNorm2d::load(const WeightMap& w, const std::string& prefix, double eps) {
  LayerNorm2d n;
  n.weight = w.get(prefix + ".weight");
  n.bias = w.get(prefix + ".bias", n.weight.sizes());
  n.eps = eps;
  return n;
}

at::Tensor LayerNorm2d::operator()(const at::Tensor& x) const {
  // Same arithmetic as upstream (mean, biased variance, divide), not a fused kernel, so that
  // results agree to the last bits that matter.
  at::Tensor u = x.mean({1}, /*keepdim=*/true);
  at::Tensor d = x - u;
  at::Tensor s = d.pow(2).mean({1}, true);
  at::Tensor y = d / at::sqrt(s + eps);
  return weight.view({1, -1, 1, 1}) * y + bias.view({1, -1, 1, 1});
}

GroupNorm GroupNorm::load(const WeightMap& w, const std::string& prefix, int64_t groups, double eps) {
  GroupNorm n;
  n.weight = w.get(prefix + ".weight");
  n.bias = w.get(prefix + ".bias", n.weight.sizes());
  n.groups = groups;
  n.eps = eps;
  return n;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const { return at::group_norm(x, groups, weight, bias, eps); }

Conv2d Conv2d::load(const WeightMap& w, const std::string& prefix, bool with_bias, int64_t stride, int64_t padding) {
  Conv2d c;
  c.weight = w.get(prefix + ".weight");
  if (with_bias) c.bias = w.get(prefix + ".bias", {c.weight.size(0)});
  c.stride = stride;
  c.padding = padding;
  return c;
}

at::Tensor Conv2d::operator()(const at::Tensor& x) const {
  return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
}

ConvTranspose2d ConvTranspose2d::load(const WeightMap& w, const std::string& prefix, int64_t stride) {
  ConvTranspose2d c;
  c.weight = w.get(prefix + ".weight");
  c.bias = w.get(prefix + ".bias", {c.weight.size(1)});
  c.stride = stride;
  return c;
}

at::Tensor ConvTranspose2d::operator()(const at::Tensor& x) const {
  return at::conv_transpose2d(x, weight, bias, {stride, stride});
}

Mlp Mlp::load(const WeightMap& w, const std::string& prefix) {
  Mlp m;
  int n = w.count_indexed(prefix + ".layers.");
  for (int i = 0; i < n; ++i) m.layers.push_back(Linear::load(w, prefix + ".layers." + std::to_string(i)));
  if (m.layers.empty()) w.get(prefix + ".layers.0.weight");  // reports the missing tensor
  return m;
}

at::Tensor Mlp::operator()(at::Tensor x) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    x = layers[i](x);
    if (i + 1 < layers.size()) x = at::relu(x);
  }
  return x;
}

}  // namespace segkit::nn
