#pragma once
// The encoder's attention as one kernel: scores, relative-position terms, softmax and the
// product with v per block of queries and keys, all in cache (flash-attention style running
// softmax). Neither the scores nor the probabilities ever exist as a whole.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::kernels {

// Whether fused_attention runs on this CPU for this type and head size, for tensors on `device`
// (the CPU, unless the ATen path is forced: kernels/aten_path.h): float32 needs x86-64 with
// AVX-512, bfloat16 also AVX-512 BF16; head sizes are multiples of 16, at most 256. Otherwise
// callers take the unfused path.
bool fused_attention_supported(at::ScalarType type, int64_t head_dim, const at::Device& device);

// Upstream's encoder attention (decomposed relative positions), windowed or global, straight
// from the qkv projection of a B×H×W token grid:
//   out_i = Σ_j softmax_j(scale·q_i·k_j + q_i·Rh[y_i, y_j] + q_i·Rw[x_i, x_j]) · v_j
// over the tokens i, j of each window of window×window tokens (window 0: the whole grid), with
// (y, x) a token's place in its window. The grid is padded up to whole windows as upstream pads
// the normed tokens with zeros before the projection: padding tokens' q, k and v are the bias.
// qkv: B×H×W×(3·heads·d) float32 or bfloat16 (q, k, v of each head in upstream's order; unit
// stride in the last dimension), qkv_bias: its 3·heads·d bias or undefined (zero). rel_pos_h:
// kh×kh×d and rel_pos_w: kw×kw×d (upstream's get_rel_pos for the window), or both undefined.
// out: B×H×W×(heads·d) with unit stride in the last dimension, the projection's input. All of
// the same type.
// Products accumulate in float32, the relative terms are added in float32 in upstream's order
// and the softmax is in float32. In bfloat16 the probabilities are rounded to bfloat16 for
// their product with v.
void fused_attention(const at::Tensor& qkv, const at::Tensor& qkv_bias, int64_t heads, int64_t window,
                     const at::Tensor& rel_pos_h, const at::Tensor& rel_pos_w, double scale, const at::Tensor& out);

}  // namespace segkit::kernels
