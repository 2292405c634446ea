#include "kernels/cpu/add_rows.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/masked_select.h>
#include <ATen/ops/nonzero.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

namespace segkit::kernels {

namespace {

constexpr const char* kName = "add_rows";

template <class T>
void add(float* y, const int64_t* rows, const T* src, int64_t C, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    if (rows[i] < 0) continue;
    float* out = y + rows[i] * C;
    const T* in = src + i * C;
    for (int64_t c = 0; c < C; ++c) out[c] += static_cast<float>(in[c]);
  }
}

}  // namespace

void add_rows_(const at::Tensor& y, const at::Tensor& rows, const at::Tensor& src) {
  if (!y.defined() || !rows.defined() || !src.defined() || y.dim() != 2 || src.dim() != 2 || rows.dim() != 1 ||
      rows.scalar_type() != at::kLong || src.size(0) != rows.size(0) || src.size(1) != y.size(1))
    fail(kName, "y must be N × C, src M × C and rows M int64 indices");
  if (!hand_written_path({&y, &rows, &src}) || y.scalar_type() != at::kFloat || !y.is_contiguous() ||
      !src.is_contiguous() || (src.scalar_type() != at::kFloat && src.scalar_type() != at::kBFloat16)) {
    const at::Tensor keep = rows >= 0;
    y.index_add_(0, rows.masked_select(keep), src.index_select(0, keep.nonzero().squeeze(1)).to(y.scalar_type()));
    return;
  }
  const at::Tensor index = rows.contiguous();
  const int64_t* r = index.data_ptr<int64_t>();
  const int64_t M = index.numel(), N = y.size(0), C = y.size(1);
  // Each output row is written by one task only if no index repeats.
  std::vector<bool> seen(static_cast<size_t>(N), false);
  for (int64_t i = 0; i < M; ++i) {
    if (r[i] < 0) continue;
    if (r[i] >= N || seen[static_cast<size_t>(r[i])])
      fail(kName, "row index " + std::to_string(r[i]) + " is out of " + std::to_string(N) + " rows or repeated");
    seen[static_cast<size_t>(r[i])] = true;
  }
  float* out = y.data_ptr<float>();
  torch_parallel_for(0, M, (int64_t(1) << 14) / std::max<int64_t>(C, 1) + 1, [&](int64_t begin, int64_t end) {
    if (src.scalar_type() == at::kFloat) add(out, r, src.data_ptr<float>(), C, begin, end);
    else add(out, r, src.data_ptr<c10::BFloat16>(), C, begin, end);
  });
}

}  // namespace segkit::kernels
