#include "core/torch_parallel.h"
#include "image/mask_resize.h"

#include <ATen/ops/empty.h>

#include <algorithm>

namespace segkit::sam {

namespace {

// One bilinear step with PyTorch's CPU weights, to the bit: the scale is a float quotient, the
// source position is computed from it in double (clamped below at 0), and the weights are
// rounded to float. (Rounding the position to float instead moves the weights by up to 3e-5,
// enough to flip pixels of the stability score's thresholds on small images.)
struct Step {
  int32_t i0, i1;
  double w0, w1;
};

Step bilinear_step(int in, int out, int index) {
  const double scale = static_cast<float>(in) / static_cast<float>(out);
  double src = scale * (static_cast<double>(index) + 0.5) - 0.5;
  if (src < 0) src = 0;
  const int32_t i0 = std::min(static_cast<int32_t>(src), in - 1);
  const int32_t i1 = std::min(i0 + 1, in - 1);
  const float l1 = static_cast<float>(src - static_cast<double>(i0));
  return {i0, i1, 1.0f - l1, l1};
}

}  // namespace

ResizeTaps compose_bilinear(int in, int mid, int keep, int out) {
  ResizeTaps r;
  r.taps = 4;
  r.first.resize(static_cast<size_t>(out));
  r.weights.assign(static_cast<size_t>(out) * 4, 0.0f);
  for (int o = 0; o < out; ++o) {
    const Step outer = bilinear_step(keep, out, o);
    const Step a = bilinear_step(in, mid, outer.i0), b = bilinear_step(in, mid, outer.i1);
    const int32_t first = std::min(a.i0, b.i0);
    double w[4] = {0, 0, 0, 0};
    w[a.i0 - first] += outer.w0 * a.w0;
    w[a.i1 - first] += outer.w0 * a.w1;
    w[b.i0 - first] += outer.w1 * b.w0;
    w[b.i1 - first] += outer.w1 * b.w1;
    r.first[static_cast<size_t>(o)] = first;
    for (int t = 0; t < 4; ++t) r.weights[static_cast<size_t>(o) * 4 + t] = static_cast<float>(w[t]);
  }
  return r;
}

at::Tensor resize_mask_logits(const at::Tensor& low_res, int image_size, std::array<int, 2> input_size,
                              std::array<int, 2> original_size) {
  if (!low_res.device().is_cpu() || low_res.scalar_type() != at::kFloat || low_res.dim() < 2) return {};
  const at::Tensor src = low_res.contiguous();
  const int h = static_cast<int>(src.size(-2)), w = static_cast<int>(src.size(-1));
  // The first step must upsample (it does in SAM: 256 → 1024) for the taps to stay within four.
  if (h > image_size || w > image_size || src.numel() == 0) return {};
  const int H = original_size[0], W = original_size[1];
  const ResizeTaps ty = compose_bilinear(h, image_size, input_size[0], H);
  const ResizeTaps tx = compose_bilinear(w, image_size, input_size[1], W);
  std::vector<int64_t> shape(src.sizes().begin(), src.sizes().end() - 2);
  shape.insert(shape.end(), {H, W});
  at::Tensor out = at::empty(shape, src.options());
  const int64_t planes = src.numel() / (int64_t(h) * w);
  const float* in = src.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // Rows of output per work item: enough to amortise the horizontal pass it needs.
  constexpr int64_t kRows = 64;
  const int64_t row_blocks = (H + kRows - 1) / kRows;
  torch_parallel_for(0, planes * row_blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> wide;  // low-res rows resampled horizontally: rows × W
    for (int64_t item = begin; item < end; ++item) {
      const int64_t p = item / row_blocks, y0 = (item % row_blocks) * kRows, y1 = std::min<int64_t>(H, y0 + kRows);
      const int r0 = ty.first[size_t(y0)], r1 = std::min(h, ty.first[size_t(y1 - 1)] + ty.taps);
      wide.assign(size_t(r1 - r0) * W, 0.0f);
      const float* plane = in + p * int64_t(h) * w;
      for (int r = r0; r < r1; ++r) {
        const float* row = plane + int64_t(r) * w;
        float* o = wide.data() + size_t(r - r0) * W;
        for (int x = 0; x < W; ++x) {
          const int f = tx.first[size_t(x)];
          const float* k = &tx.weights[size_t(x) * 4];
          float v = 0;
          for (int t = 0; t < 4 && f + t < w; ++t) v += k[t] * row[f + t];
          o[x] = v;
        }
      }
      for (int64_t y = y0; y < y1; ++y) {
        float* o = dst + (p * H + y) * int64_t(W);
        const int f = ty.first[size_t(y)];
        const float* k = &ty.weights[size_t(y) * 4];
        std::fill(o, o + W, 0.0f);
        for (int t = 0; t < 4 && f + t < h; ++t) {
          const float kt = k[t];
          if (kt == 0.0f) continue;
          const float* s = wide.data() + size_t(f + t - r0) * W;
          for (int x = 0; x < W; ++x) o[x] += kt * s[x];
        }
      }
    }
  });
  return out;
}

}  // namespace segkit::sam
