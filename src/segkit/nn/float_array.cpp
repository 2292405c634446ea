#include "nn/float_array.h"

#include <ATen/ops/from_blob.h>

#include "segkit/error.h"

namespace segkit::nn {

FloatArray to_float_array(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();  // values are read on the host
  FloatArray a;
  a.shape.assign(c.sizes().begin(), c.sizes().end());
  a.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return a;
}

at::Tensor float_array_view(const FloatArray& a, const std::string& what, size_t dims) {
  int64_t n = 1;
  for (int64_t d : a.shape) n *= d;
  if (a.shape.size() != dims || n != static_cast<int64_t>(a.data.size())) throw Error(what + " has the wrong shape");
  return at::from_blob(const_cast<float*>(a.data.data()), a.shape, at::kFloat);
}

}  // namespace segkit::nn
