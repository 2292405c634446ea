#pragma once
// Mask2Former's attention mask from a layer's mask logits in one pass: a key (pixel) is blocked
// for a query where sigmoid(logit) < 0.5, as transformers decides it in float32, and a query
// that would be blocked everywhere may look everywhere instead.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// logits: B × Q × h × w float32 → B × Q × h·w bool, contiguous. Contiguous float32 logits on
// the CPU take the kernel; anything else ATen's sigmoid, lt, all and logical_and.
at::Tensor blocked_keys(const at::Tensor& logits);

}  // namespace segkit::kernels
