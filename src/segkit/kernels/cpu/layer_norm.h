#pragma once
// Layer normalisation over the last dimension, written straight in the type the next product
// takes: one pass over each row (in L1) instead of ATen's layer norm and a conversion after it.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// at::layer_norm(x, {C}, weight, bias, eps).to(out_type), C = x.size(-1). AVX-512 where the CPU
// has it (AVX-512 BF16 for a bfloat16 result), x is contiguous float32 and weight and bias are
// float32 of size C; ATen otherwise. Mean and variance are taken in two passes over the row.
at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                      at::ScalarType out_type);

// The same over rows of x (N × C, contiguous float32) picked by `rows` (M int64 on x's device):
// out[i] = layer_norm(x[rows[i]]), a row of zeros where rows[i] < 0. M × C of out_type, the
// gather and the norm in one pass (Swin's padded, shifted windows).
at::Tensor layer_norm_rows(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& weight, const at::Tensor& bias,
                           double eps, at::ScalarType out_type);

}  // namespace segkit::kernels
