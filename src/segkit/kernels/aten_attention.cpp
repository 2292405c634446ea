#include "kernels/aten_attention.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/softmax.h>

#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
#include <ATen/ops/scaled_dot_product_attention.h>
#define SEGKIT_HAVE_SDPA 1
#else
#define SEGKIT_HAVE_SDPA 0
#endif

namespace segkit::kernels {

bool aten_attention_is_fused() { return SEGKIT_HAVE_SDPA; }

at::Tensor aten_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                          double scale) {
#if SEGKIT_HAVE_SDPA
  // The scale argument exists from LibTorch 2.1; the bias is an additive float mask.
  return at::scaled_dot_product_attention(q, k, v, bias, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  if (bias.defined()) scores = scores + bias;
  const at::Tensor p = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(p, v);
#endif
}

}  // namespace segkit::kernels
