#pragma once
// Attention on any device: softmax(q·kᵀ·scale + bias)·v. Where this LibTorch has
// scaled_dot_product_attention (2.0 and later) it runs there, so a GPU takes its flash or
// memory-efficient kernels; LibTorch 1.13 (Debian's) gets the same in three operations. This
// is the one place that tells the two apart.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// q: …×Lq×d, k and v: …×Lk×d (the same leading sizes), all of one floating type; bias:
// broadcastable to …×Lq×Lk in that type, or undefined. Returns …×Lq×d. The softmax is taken in
// float32 for narrower types.
at::Tensor aten_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                          double scale);

// Whether aten_attention runs LibTorch's scaled_dot_product_attention (for reports).
bool aten_attention_is_fused();

}  // namespace segkit::kernels
