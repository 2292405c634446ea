#include "models/sam3/rope.h"

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/stack.h>

#include <cmath>
#include <vector>

#include "kernels/aten_path.h"
#include "models/device.h"
#include "segkit/error.h"

namespace segkit::sam3 {

AxialRope AxialRope::make(int64_t side, double scale, int64_t head_dim, double theta) {
  const int64_t quarter = head_dim / 4, n = side * side;
  // Everything in float32, in transformers' order: frequencies theta^(−4k/d), positions
  // (index · scale), their products, then cos and sin.
  std::vector<float> freq(quarter);
  for (int64_t k = 0; k < quarter; ++k)
    freq[k] = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(4 * k) / static_cast<float>(head_dim));
  AxialRope r;
  r.cos = at::empty({n, head_dim}, at::kFloat);
  r.sin = at::empty({n, head_dim}, at::kFloat);
  float* c = r.cos.data_ptr<float>();
  float* s = r.sin.data_ptr<float>();
  const float fscale = static_cast<float>(scale);
  for (int64_t t = 0; t < n; ++t) {
    const float x = static_cast<float>(t % side) * fscale, y = static_cast<float>(t / side) * fscale;
    for (int64_t k = 0; k < 2 * quarter; ++k) {
      const float angle = k < quarter ? x * freq[k] : y * freq[k - quarter];
      for (int64_t j = 2 * k; j < 2 * k + 2; ++j) {
        c[t * head_dim + j] = std::cos(angle);
        s[t * head_dim + j] = std::sin(angle);
      }
    }
  }
  return r;
}

void AxialRope::to_device(const at::Device& device) {
  cos = models::to_device(cos, device);
  sin = models::to_device(sin, device);
}

namespace {

// The rotation below with ATen's operators, in place: x … × d, cos and sin broadcast to it.
void rotate_aten_(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  std::vector<int64_t> pairs_shape = x.sizes().vec();
  pairs_shape.back() /= 2;
  pairs_shape.push_back(2);
  const at::Tensor pairs = x.view(pairs_shape);  // … × d/2 × 2 (the channels are unit-stride)
  const at::Tensor rotated = at::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);
  x.copy_(x * cos + rotated * sin);
}

// q·cos + rotate(q)·sin with rotate(q)[2i] = −q[2i+1], rotate(q)[2i+1] = q[2i], on d channels.
inline void rotate(float* p, const float* ct, const float* st, int64_t d) {
  for (int64_t j = 0; j < d; j += 2) {
    const float a = p[j], e = p[j + 1];
    p[j] = a * ct[j] + (-e) * st[j];
    p[j + 1] = e * ct[j + 1] + a * st[j + 1];
  }
}

}  // namespace

void AxialRope::apply_grid_(const at::Tensor& x) const {
  const int64_t side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(cos.size(0)))));
  if (x.dim() != 5 || x.scalar_type() != at::kFloat || x.stride(4) != 1 || x.size(4) != cos.size(1))
    throw Error("sam3 rope: expected float32 B×H×W×heads×" + std::to_string(cos.size(1)) + " with unit-stride channels");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), heads = x.size(3), d = x.size(4);
  if (!kernels::hand_written_path({&x})) {
    // Each token's row of the tables, (y mod side)·side + (x mod side), gathered once.
    const at::Tensor ys = at::arange(H, cos.options().dtype(at::kLong)).remainder(side);
    const at::Tensor xs = at::arange(W, cos.options().dtype(at::kLong)).remainder(side);
    const at::Tensor rows = (ys.unsqueeze(1) * side + xs.unsqueeze(0)).view(-1);
    auto table = [&](const at::Tensor& t) { return t.index_select(0, rows).view({1, H, W, 1, d}); };
    rotate_aten_(x, table(cos), table(sin));
    return;
  }
  float* base = x.data_ptr<float>();
  const int64_t sb = x.stride(0), sy = x.stride(1), sx = x.stride(2), sh = x.stride(3);
  const float* c = cos.data_ptr<float>();
  const float* s = sin.data_ptr<float>();
  at::parallel_for(0, B * H * W, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / (H * W), y = i / W % H, xx = i % W;
      const int64_t t = (y % side) * side + xx % side;
      for (int64_t h = 0; h < heads; ++h) rotate(base + b * sb + y * sy + xx * sx + h * sh, c + t * d, s + t * d, d);
    }
  });
}

void AxialRope::apply_(const at::Tensor& x) const {
  const int64_t B = x.size(0), N = x.size(1), heads = x.size(2), d = x.size(3);
  if (x.scalar_type() != at::kFloat || x.stride(3) != 1 || N != cos.size(0) || d != cos.size(1))
    throw Error("sam3 rope: expected float32 B×" + std::to_string(cos.size(0)) + "×heads×" +
                std::to_string(cos.size(1)) + " with unit-stride channels");
  if (!kernels::hand_written_path({&x})) {
    rotate_aten_(x, cos.view({1, N, 1, d}), sin.view({1, N, 1, d}));
    return;
  }
  float* base = x.data_ptr<float>();
  const int64_t sb = x.stride(0), sn = x.stride(1), sh = x.stride(2);
  const float* c = cos.data_ptr<float>();
  const float* s = sin.data_ptr<float>();
  at::parallel_for(0, B * N, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / N, t = i % N;
      const float* ct = c + t * d;
      const float* st = s + t * d;
      for (int64_t h = 0; h < heads; ++h) rotate(base + b * sb + t * sn + h * sh, ct, st, d);
    }
  });
}

}  // namespace segkit::sam3
