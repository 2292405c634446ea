#pragma once
// The encoder's attention in bfloat16 as one kernel: scores, relative-position terms, softmax
// and the product with v per block of queries and keys, all in cache (flash-attention style
// running softmax). Neither the scores nor the probabilities ever exist as a whole.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::sam {

// Whether fused_attention_bf16 runs on this CPU (x86-64 with AVX-512 BF16) for this head size
// (a multiple of 16, at most 256). Otherwise callers take the unfused path.
bool fused_attention_bf16_supported(int64_t head_dim);

// out[b, h, i] = Σ_j softmax_j(scale·q[b,h,i]·k[b,h,j] + rel_h[b,h,i,j / kw] + rel_w[b,h,i,j % kw]) · v[b,h,j]
// q, k, v, out: B×heads×N×d bfloat16 views with unit stride along d (any other strides, e.g.
// q, k and v read in place from the qkv projection); the N = kh·kw keys in row-major (y, x)
// order. rel_h: B×heads×N×kh and rel_w: B×heads×N×kw bfloat16 with contiguous rows, or both
// undefined. Sums and the softmax are in float32 (relative terms added in upstream's order),
// the probabilities are rounded to bfloat16 for their product with v.
void fused_attention_bf16(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rel_h,
                          const at::Tensor& rel_w, int64_t kh, int64_t kw, double scale, const at::Tensor& out);

}  // namespace segkit::sam
