#pragma once
// GELU with the exact erf (at::gelu's default, upstream's nn.GELU) applied after a bias, in one
// pass: the epilogue of an MLP's first linear.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// y = gelu(y + bias) in place, bias over y's last dimension (undefined: no bias). AVX-512
// where the CPU has it and y is contiguous float32 or bfloat16 with a float32 bias (computed in
// float32, erf as ATen's vectorised one computes it, to about 1e-7; bfloat16 rounded once, as
// ATen rounds), ATen's ops otherwise.
void add_bias_gelu_(const at::Tensor& y, const at::Tensor& bias);

}  // namespace segkit::kernels
