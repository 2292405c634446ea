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

// out[b, h, i] = Σ_j softmax_j(scale·q_i·k_j + q_i·Rh[y_i, y_j] + q_i·Rw[x_i, x_j]) · v_j for each
// image b and head h, queries and keys on the same kh×kw grid in row-major (y, x) order
// (upstream's attention with decomposed relative positions).
// q, k, v, out: B×heads×N×d bfloat16 views with unit stride along d (any other strides, e.g.
// q, k and v read in place from the qkv projection), N = kh·kw. rel_pos_h: kh×kh×d and
// rel_pos_w: kw×kw×d bfloat16 (upstream's get_rel_pos), or both undefined. Products accumulate
// in float32, the relative terms are added in float32 in upstream's order, the softmax is in
// float32 and the probabilities are rounded to bfloat16 for their product with v.
void fused_attention_bf16(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rel_pos_h,
                          const at::Tensor& rel_pos_w, int64_t kh, int64_t kw, double scale, const at::Tensor& out);

}  // namespace segkit::sam
