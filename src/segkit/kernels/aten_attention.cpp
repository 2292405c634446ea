#include "kernels/aten_attention.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/softmax.h>

#include <torch/version.h>

// scaled_dot_product_attention with its scale argument: LibTorch 2.1 and later.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#include <ATen/ops/scaled_dot_product_attention.h>
#include <c10/util/Optional.h>
#define SEGKIT_HAVE_SDPA 1
#else
#define SEGKIT_HAVE_SDPA 0
#endif

namespace segkit::kernels {

bool aten_attention_is_fused() { return SEGKIT_HAVE_SDPA; }

at::Tensor aten_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                          double scale) {
#if SEGKIT_HAVE_SDPA
  // The bias is an additive float mask. An undefined tensor would still count as a mask there
  // (and fail its dtype check), so no bias is no mask at all.
  c10::optional<at::Tensor> mask;
  if (bias.defined()) mask = bias;
  return at::scaled_dot_product_attention(q, k, v, mask, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  if (bias.defined()) scores = scores + bias;
  const at::Tensor p = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(p, v);
#endif
}

}  // namespace segkit::kernels
