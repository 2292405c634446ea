#pragma once
// Between the public API's FloatArray (segkit/float_array.h) and tensors.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>

#include "segkit/float_array.h"

namespace segkit::nn {

// A float32 copy of `t` (any dtype, any layout, any device) on the host.
FloatArray to_float_array(const at::Tensor& t);

// A float32 tensor viewing `a`'s data, which must outlive it. Error "<what> has the wrong
// shape" unless `a` has `dims` dimensions whose product is its size.
at::Tensor float_array_view(const FloatArray& a, const std::string& what, size_t dims);

}  // namespace segkit::nn
