#include "kernels/cpu/add_upsampled_bilinear.h"

#include <ATen/ops/upsample_bilinear2d.h>
#include <c10/util/Optional.h>

#include <vector>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

namespace segkit::kernels {

namespace {

// One output coordinate's two source indices and weights, as ATen's CPU kernel makes them:
// source = max(scale·(dst + 0.5) − 0.5, 0) with scale = in / out in float, the second index
// clamped to the last row or column.
struct Taps {
  int64_t first, second;
  float w_first, w_second;
};

std::vector<Taps> taps(int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<Taps> t(static_cast<size_t>(out));
  for (int64_t d = 0; d < out; ++d) {
    float source = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    if (source < 0.0f) source = 0.0f;
    const auto first = static_cast<int64_t>(source);
    const float w_second = source - static_cast<float>(first);
    t[static_cast<size_t>(d)] = {first, first + (first < in - 1 ? 1 : 0), 1.0f - w_second, w_second};
  }
  return t;
}

}  // namespace

void add_upsampled_bilinear_(const at::Tensor& out, const at::Tensor& x) {
  if (!out.defined() || !x.defined() || out.dim() != 4 || x.dim() != 4 || out.size(0) != x.size(0) ||
      out.size(1) != x.size(1))
    fail("add_upsampled_bilinear", "out and x must be B × C × H × W maps of the same batch and channels");
  const int64_t batch = out.size(0), c = out.size(1), H = out.size(2), W = out.size(3), h = x.size(2), w = x.size(3);
  if (!hand_written_path({&out, &x}) || out.scalar_type() != at::kFloat || x.scalar_type() != at::kFloat ||
      !out.is_contiguous(at::MemoryFormat::ChannelsLast) || !x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    out.add_(at::upsample_bilinear2d(x, {H, W}, /*align_corners=*/false, c10::nullopt, c10::nullopt));
    return;
  }
  if (out.numel() == 0) return;
  if (h == 0 || w == 0) fail("add_upsampled_bilinear", "x is empty but out is not");
  const std::vector<Taps> rows = taps(h, H), cols = taps(w, W);
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  torch_parallel_for(0, batch * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / H;
      const Taps& r = rows[static_cast<size_t>(row % H)];
      const float* top = src + (n * h + r.first) * w * c;
      const float* bottom = src + (n * h + r.second) * w * c;
      float* o = dst + row * W * c;
      for (int64_t j = 0; j < W; ++j, o += c) {
        const Taps& t = cols[static_cast<size_t>(j)];
        const float* a = top + t.first * c;
        const float* b = top + t.second * c;
        const float* p = bottom + t.first * c;
        const float* q = bottom + t.second * c;
        // ATen's order: the row weights outside, the column weights inside.
        for (int64_t k = 0; k < c; ++k)
          o[k] += r.w_first * (t.w_first * a[k] + t.w_second * b[k]) + r.w_second * (t.w_first * p[k] + t.w_second * q[k]);
      }
    }
  });
}

}  // namespace segkit::kernels
