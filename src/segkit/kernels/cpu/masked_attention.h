#pragma once
// Multi-head attention of a few queries over many keys with a boolean mask per query and key
// (Mask2Former's masked cross-attention; its self-attention without a mask), fused: per batch
// item and head, blocks of 256 keys and their values are unpacked once into float32 and every
// query passes over them four rows at a time with a running maximum and sum (flash-attention
// style), so no score tensor exists and k and v are read once, in either type. With bfloat16 k
// and v on a CPU with AVX-512 BF16 both products take pairs of bfloat16 (vdpbf16ps) instead.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// Whether masked_attention runs on these tensors (a CPU with AVX-512, the hand-written path,
// the layouts and types below, a head width that is a multiple of 16 up to 64).
bool masked_attention_supports(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads);

// q: B×Q×C float32, k and v: B×L×C both float32 or both bfloat16, all contiguous,
// C = heads·dh; blocked: B×Q×L bool, contiguous, or undefined (none). Returns B×Q×C float32,
// heads side by side:
//   out[b, i, h·dh : (h+1)·dh] = Σ_j p_j · v[b, j, h],  p = softmax_j(scale · q[b, i, h]·k[b, j, h])
// over the keys j not blocked for query i (blocked keys weigh exactly 0; a query blocked
// everywhere gives NaN, as ATen's softmax of −∞ everywhere). Products and softmax accumulate in
// float32; where the products take bfloat16 pairs, q and the probabilities are rounded to
// bfloat16 for them (the sum that normalises the probabilities is not).
at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                            int64_t heads, double scale);

}  // namespace segkit::kernels
