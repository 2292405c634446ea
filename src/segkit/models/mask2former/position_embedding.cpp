#include "models/mask2former/position_embedding.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace segkit::mask2former {

at::Tensor sine_position_embedding(int64_t height, int64_t width, int64_t num_pos_feats) {
  // transformers computes in float32: cumsum of ones, divided by (last + eps), times 2π, then
  // divided by dim_t; the same operations in the same order keep the values bit-identical.
  const float two_pi = static_cast<float>(2 * M_PI);
  const float eps = 1e-6f;
  std::vector<float> dim_t(num_pos_feats);
  for (int64_t k = 0; k < num_pos_feats; ++k) {
    const float exponent = static_cast<float>(2 * (k / 2)) / static_cast<float>(num_pos_feats);
    dim_t[k] = std::pow(10000.0f, exponent);
  }
  // Each feature's values along the rows and along the columns, once (not per pixel: the sines
  // and cosines were most of the time).
  std::vector<float> along_y(num_pos_feats * height), along_x(num_pos_feats * width);
  for (int64_t k = 0; k < num_pos_feats; ++k) {
    for (int64_t i = 0; i < height; ++i) {
      const float y = static_cast<float>(i + 1) / (static_cast<float>(height) + eps) * two_pi / dim_t[k];
      along_y[k * height + i] = k % 2 == 0 ? std::sin(y) : std::cos(y);
    }
    for (int64_t j = 0; j < width; ++j) {
      const float x = static_cast<float>(j + 1) / (static_cast<float>(width) + eps) * two_pi / dim_t[k];
      along_x[k * width + j] = k % 2 == 0 ? std::sin(x) : std::cos(x);
    }
  }
  at::Tensor out = at::empty({1, 2 * num_pos_feats, height, width});
  float* p = out.data_ptr<float>();
  const int64_t plane = height * width;
  for (int64_t k = 0; k < num_pos_feats; ++k)
    for (int64_t i = 0; i < height; ++i) {
      float* y_row = p + k * plane + i * width;
      float* x_row = p + (num_pos_feats + k) * plane + i * width;
      std::fill(y_row, y_row + width, along_y[k * height + i]);
      std::copy(along_x.begin() + k * width, along_x.begin() + (k + 1) * width, x_row);
    }
  return out;
}

}  // namespace segkit::mask2former
