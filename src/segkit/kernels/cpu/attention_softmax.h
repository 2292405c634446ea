#pragma once
// Attention's softmax over score rows, in place, in one pass over each row while it sits in L1
// cache; for the encoder with its decomposed relative-position terms added on the way (instead
// of an add over the whole tile, then a softmax).
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// For each row r of `scores` (G×T×N, contiguous, N = kh·kw keys in row-major (y, x) order):
//   s[g, r, y·kw + x] += rel_h[g, r, y] + rel_w[g, r, x], then the row is soft-maxed,
// in place. rel_h is G×T×kh and rel_w G×T×kw, each with rows of unit stride one after another
// (any stride between the G groups), of the scores' dtype: float32 or bfloat16, summed in
// float32. Undefined rel_h and rel_w: the softmax alone.
void add_rel_pos_softmax_(const at::Tensor& scores, const at::Tensor& rel_h, const at::Tensor& rel_w);

// Windowed attention's softmax with an additive bias per head and a mask per window (Swin's
// relative-position bias and shifted-window mask), in place, in one pass over each row:
//   scores[w, h] = softmax((scores[w, h] + bias[h]) + mask[w]) over the last dimension,
// for scores W×H×T×N, bias H×T×N and mask W×T×N or undefined, all contiguous float32.
void add_bias_softmax_(const at::Tensor& scores, const at::Tensor& bias, const at::Tensor& mask);

// softmax(scores with −∞ where `blocked`) over each row, in place: scores R×N contiguous
// float32, blocked R×N contiguous bool or undefined (none). Blocked keys get exactly 0; a row
// blocked everywhere gives NaN, as ATen's softmax.
void masked_softmax_(const at::Tensor& scores, const at::Tensor& blocked);

// Softmax over the last dimension of a contiguous float32 or bfloat16 tensor, in place.
void softmax_last_dim_(const at::Tensor& x);

// Softmax over the second-to-last dimension (the rows of each matrix) of a contiguous float32
// tensor, in place: for the decoder's image tokens attending to a prompt's few tokens, with the
// scores laid out tokens × image tokens so that the long dimension is the contiguous one.
void softmax_across_rows_(const at::Tensor& x);

}  // namespace segkit::kernels
