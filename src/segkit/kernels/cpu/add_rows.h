#pragma once
// y[rows[i]] += src[i]: a scatter of rows into a residual stream in one pass (Swin's windows
// back to their tokens, with the shift undone and the padding dropped, added to the input).
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// y: N × C float32, src: M × C float32 or bfloat16, rows: M int64 (each index at most once;
// negative: the row is dropped). Contiguous CPU tensors take the kernel, any other ATen's
// index_add_.
void add_rows_(const at::Tensor& y, const at::Tensor& rows, const at::Tensor& src);

}  // namespace segkit::kernels
