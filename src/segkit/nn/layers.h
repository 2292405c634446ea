#pragma once
// Small building blocks shared by the models: plain weight holders with a forward function
// (inference only, no autograd or module machinery).
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/packed_linear.h"
#include "nn/weight_map.h"

namespace segkit::nn {

struct Conv2d;

struct Linear {
  at::Tensor weight, bias;  // bias may be undefined; weight is undefined once packed
  std::shared_ptr<const kernels::PackedLinear> packed;
  static Linear load(const WeightMap& w, const std::string& prefix, bool with_bias = true);
  // The linear layer a convolution whose stride is its kernel size (a 1×1 one, a patch
  // embedding) is over each patch's C_in·kh·kw values in (channel, row, column) order: views of
  // its weights, not packed.
  static Linear of_convolution(const Conv2d& conv);
  int64_t out_features() const { return packed ? packed->out_features() : weight.size(0); }
  int64_t in_features() const { return packed ? packed->in_features() : weight.size(1); }
  // The type its input must have: its weights'.
  at::ScalarType type() const { return packed ? packed->type() : weight.scalar_type(); }
  // Converts the weights to bfloat16 and, where oneDNN can, packs them for `rows`-row inputs
  // (kernels/cpu/packed_linear.h), dropping the plain copy.
  void use_bfloat16(int64_t rows);
  // Packs the weights as they are (float32 on the CPU) where oneDNN can, dropping the plain
  // copy: bias, activation and residual sum then happen inside the product.
  void pack(int64_t rows);
  // use_bfloat16 for bfloat16, pack for float32.
  void prepare(at::ScalarType type, int64_t rows);
  at::Tensor operator()(const at::Tensor& x) const;
  // this(x) in float32: for bfloat16 weights the product's float32 sums, not rounded to bfloat16
  // (written so by the product when packed, widened after it otherwise).
  at::Tensor float32(const at::Tensor& x) const;
  // relu(this(x)) and gelu(this(x)) (the exact GELU): inside the product when packed, else in
  // one pass after it.
  at::Tensor relu(const at::Tensor& x) const;
  at::Tensor gelu(const at::Tensor& x) const;
  // y += this(x) (a residual connection): the product accumulates into a float32 y in place.
  void accumulate(const at::Tensor& y, const at::Tensor& x) const;
};

struct LayerNorm {  // over the last dimension
  at::Tensor weight, bias;
  double eps = 1e-6;
  static LayerNorm load(const WeightMap& w, const std::string& prefix, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
  // The same written in `out_type` (the next product's type), in one pass where it can
  // (kernels/cpu/layer_norm.h).
  at::Tensor operator()(const at::Tensor& x, at::ScalarType out_type) const;
};

struct LayerNorm2d {  // over channels of N×C×H×W, as upstream's LayerNorm2d
  at::Tensor weight, bias;
  double eps = 1e-6;
  static LayerNorm2d load(const WeightMap& w, const std::string& prefix, double eps = 1e-6);
  at::Tensor operator()(const at::Tensor& x) const;
};

struct GroupNorm {  // torch.nn.GroupNorm over N×C×H×W (any memory format)
  at::Tensor weight, bias;
  int64_t groups = 32;
  double eps = 1e-5;
  static GroupNorm load(const WeightMap& w, const std::string& prefix, int64_t groups, double eps = 1e-5);
  at::Tensor operator()(const at::Tensor& x) const;
};

struct Conv2d {
  at::Tensor weight, bias;  // bias may be undefined
  int64_t stride = 1, padding = 0;
  static Conv2d load(const WeightMap& w, const std::string& prefix, bool with_bias, int64_t stride, int64_t padding);
  at::Tensor operator()(const at::Tensor& x) const;
};

struct ConvTranspose2d {  // kernel 2, stride 2 as in SAM's upscaling
  at::Tensor weight, bias;
  int64_t stride = 2;
  static ConvTranspose2d load(const WeightMap& w, const std::string& prefix, int64_t stride);
  at::Tensor operator()(const at::Tensor& x) const;
};

// Upstream MLP: Linear layers with ReLU between them, none after the last.
struct Mlp {
  std::vector<Linear> layers;
  static Mlp load(const WeightMap& w, const std::string& prefix);
  at::Tensor operator()(at::Tensor x) const;
};

}  // namespace segkit::nn
