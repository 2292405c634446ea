#pragma once
// Windowed self-attention with an additive bias per head and a mask per window (Swin's
// relative-position bias and shifted-window mask), fused: each window's queries, keys and
// values are read once, in order, into float32 buffers that stay in cache, and per head the
// scores, softmax and product with the values run four query rows at a time in L1 cache, with
// no score or probability tensors and no copies to split or merge the heads.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::kernels {

// Whether window_attention runs on `qkv` (a CPU with AVX-512, the hand-written path, a
// contiguous float32 or bfloat16 W×T×3×heads×dh tensor with dh a multiple of 16 up to 64 and
// T ≤ 256); otherwise callers take products and add_bias_softmax_ (attention_softmax.h).
bool window_attention_supports(const at::Tensor& qkv);

// qkv: W×T×3×heads×dh, the fused q/k/v projection of W windows of T tokens. For every window w,
// head h and token t:
//   out[w, t, h·dh : (h+1)·dh] = Σ_j p_j · v[w, j, h],
//   p = softmax_j((scale · q[w, t, h]·k[w, j, h] + bias[h, t, j]) + mask[w, t, j]),
// bias heads×T×T and mask W×T×T (or undefined: none) contiguous float32. Returns W×T×(heads·dh)
// in qkv's type: products, softmax and sums in float32, rounded once for bfloat16.
at::Tensor window_attention(const at::Tensor& qkv, double scale, const at::Tensor& bias, const at::Tensor& mask);

}  // namespace segkit::kernels
