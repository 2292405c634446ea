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

// x = at::layer_norm(x, ...) in place (x contiguous float32). Where copy_type is not float32
// (bfloat16: the next product's input), the normed values are also returned in that type, from
// the same pass; otherwise an undefined tensor.
at::Tensor layer_norm_(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                       at::ScalarType copy_type = at::kFloat);

// The same over rows of x (N × C, contiguous float32) picked by `rows` (M int64 on x's device):
// out[i] = layer_norm(x[rows[i]]), a row of zeros where rows[i] < 0. M × C of out_type, the
// gather and the norm in one pass (Swin's padded, shifted windows).
at::Tensor layer_norm_rows(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& weight, const at::Tensor& bias,
                           double eps, at::ScalarType out_type);

// Rows of x (N × P, contiguous float32) merged G at a time, then normalised: out[i] =
// layer_norm(cat(x[rows[i][0]], …, x[rows[i][G−1]])), a piece of zeros where an index is negative
// (Swin's patch merging: each 2×2 neighbourhood of tokens side by side, padded at odd sizes).
// rows: M × G int64; weight and bias of G·P; out M × G·P of out_type.
at::Tensor layer_norm_merged_rows(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& weight,
                                  const at::Tensor& bias, double eps, at::ScalarType out_type);

}  // namespace segkit::kernels
