#pragma once
// Float32 matrix products for the models: oneDNN's GEMM where segkit was built with it (much
// faster on CPU than the BLAS LibTorch calls, and able to read strided views in place), ATen
// otherwise and for every other dtype or device.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// y = x·weightᵀ + bias over x's last dimension (at::linear); bias may be undefined.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// gelu(x·weightᵀ + bias), the bias and GELU in one pass after the product (kernels/cpu/gelu.h).
at::Tensor linear_gelu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// y += x·weightᵀ + bias (a residual connection): the product accumulates straight into y, with
// no tensor for it. y must not overlap x.
void linear_accumulate(const at::Tensor& y, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// out = beta·out + alpha·a·b, for a (…, M, K), b (…, K, N), out (…, M, N) with the same leading
// (batch) sizes. Views are read in place when each matrix has a unit stride on one side
// (transposed views, slices of wider rows, expanded batches); out's columns must be unit-stride
// for that. With beta = 0, out's old values are ignored (NaN included).
void matmul_into(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, double beta = 0.0,
                 double alpha = 1.0);

// alpha·a·b into a fresh tensor: a (…, M, K), b (…, K, N) with the same leading sizes → (…, M, N)
// with a's leading sizes; views are read in place as in matmul_into.
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b, double alpha = 1.0);

// True when float32 products run on oneDNN (for benchmark reports).
bool matmul_uses_onednn();

// True when matmul_into reads strided views of this dtype in place; otherwise ATen's products
// copy them on every call, and callers that multiply the same view many times should make it
// contiguous once.
bool matmul_reads_views_in_place(at::ScalarType dtype);

}  // namespace segkit::kernels
