#include "models/sam3/fpn_neck.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/max_pool2d.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/checked_layers.h"

namespace segkit::sam3 {

at::Tensor FpnLevel::operator()(const at::Tensor& x) const {
  at::Tensor h = x;
  for (size_t i = 0; i < upsample.size(); ++i) {
    if (i > 0) h = at::gelu(h);
    h = upsample[i](h);
  }
  if (max_pool) h = at::max_pool2d(h, {2, 2}, {2, 2});
  h = proj1(h);
  // The Winograd kernel's output is channels-last; the levels' readers take contiguous maps.
  return proj2_winograd && proj2_winograd->supports(h) ? (*proj2_winograd)(h).contiguous() : proj2(h);
}

FpnNeck FpnNeck::load(const nn::WeightMap& w, const std::string& prefix, const VisionConfig& c) {
  FpnNeck neck;
  neck.fpn_hidden_size = c.fpn_hidden_size;
  const int64_t C = c.backbone.hidden_size, fpn = c.fpn_hidden_size;
  for (size_t i = 0; i < c.scale_factors.size(); ++i) {
    const std::string p = prefix + "fpn_layers." + std::to_string(i) + ".";
    FpnLevel level;
    level.scale = c.scale_factors[i];
    int64_t channels = C;
    // transformers numbers the scale layers with the GELU in between: ×4 has 0 and 2.
    if (level.scale == 4.0) {
      level.upsample.push_back(load_conv_transpose2d(w, p + "scale_layers.0", C, C / 2));
      level.upsample.push_back(load_conv_transpose2d(w, p + "scale_layers.2", C / 2, C / 4));
      channels = C / 4;
    } else if (level.scale == 2.0) {
      level.upsample.push_back(load_conv_transpose2d(w, p + "scale_layers.0", C, C / 2));
      channels = C / 2;
    } else if (level.scale == 0.5) {
      level.max_pool = true;
    }
    level.proj1 = load_conv2d(w, p + "proj1", channels, fpn, 1);
    level.proj2 = load_conv2d(w, p + "proj2", fpn, fpn, 3);
    level.proj2_winograd = kernels::WinogradConv3x3::prepare(level.proj2.weight, level.proj2.bias);
    neck.levels.push_back(std::move(level));
  }
  return neck;
}

at::Tensor sine_position_encoding(int64_t channels, int64_t height, int64_t width) {
  const int64_t npf = channels / 2;
  // float32 throughout, in transformers' order: cumulative position / (last + eps) · 2π, then
  // divided by 10⁴^(2·⌊k/2⌋/npf); even channels sin, odd ones cos.
  const float two_pi = static_cast<float>(2 * M_PI);
  std::vector<float> dim_t(npf);
  for (int64_t k = 0; k < npf; ++k)
    dim_t[k] = std::pow(10000.0f, static_cast<float>(2 * (k / 2)) / static_cast<float>(npf));
  auto embed = [&](int64_t n) {
    std::vector<float> e(n);
    const float last = static_cast<float>(n) + 1e-6f;
    for (int64_t i = 0; i < n; ++i) e[i] = static_cast<float>(i + 1) / last * two_pi;
    return e;
  };
  const std::vector<float> ey = embed(height), ex = embed(width);
  at::Tensor pos = at::empty({1, 2 * npf, height, width}, at::kFloat);
  float* out = pos.data_ptr<float>();
  // Row channels vary along y only and column channels along x only: one sin or cos per row
  // or column, then filled.
  for (int64_t k = 0; k < npf; ++k) {
    float* py = out + k * height * width;
    float* px = out + (npf + k) * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const float v = ey[y] / dim_t[k];
      std::fill(py + y * width, py + (y + 1) * width, k % 2 == 0 ? std::sin(v) : std::cos(v));
    }
    for (int64_t x = 0; x < width; ++x) {
      const float v = ex[x] / dim_t[k];
      px[x] = k % 2 == 0 ? std::sin(v) : std::cos(v);
    }
    for (int64_t y = 1; y < height; ++y) std::copy(px, px + width, px + y * width);
  }
  return pos;
}

}  // namespace segkit::sam3
