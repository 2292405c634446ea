#pragma once
// a + b written in the next product's type in one pass: a float32 residual stream plus its
// position embedding, rounded once to bfloat16 (instead of ATen's sum and a conversion after it).
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// (a + b).to(out_type). a: float32; b: float32 of a's shape, or of a's last dimensions (with or
// without leading ones; repeated over a's other dimensions, as a position embedding over a
// batch). Contiguous CPU tensors with a float32 or bfloat16 result take the kernel, any other
// ATen's operators.
at::Tensor add_as(const at::Tensor& a, const at::Tensor& b, at::ScalarType out_type);

}  // namespace segkit::kernels
