#include "models/sam/preprocess.h"

#include <ATen/ops/zeros.h>

#include "image/resize_pil.h"
#include "segkit/error.h"

namespace segkit::sam {

std::array<int, 2> preprocess_shape(int height, int width, int long_side) {
  const double scale = long_side * 1.0 / std::max(height, width);
  const double h = height * scale, w = width * scale;
  return {static_cast<int>(h + 0.5), static_cast<int>(w + 0.5)};
}

Image resize_longest_side(const Image& image, int long_side) {
  auto [h, w] = preprocess_shape(image.height, image.width, long_side);
  // A 1×4000 image would round to zero rows; Pillow refuses that too, but we keep one.
  return resize_bilinear_pil(image, std::max(w, 1), std::max(h, 1));
}

at::Tensor normalize_and_pad(const Image& resized, const SamConfig& c) {
  const int S = c.image_size;
  if (resized.width > S || resized.height > S) throw Error("normalize_and_pad: image larger than the model input");
  at::Tensor x = at::zeros({1, 3, S, S}, at::kFloat);
  float* out = x.data_ptr<float>();
  for (int ch = 0; ch < 3; ++ch) {
    const float mean = c.pixel_mean[ch], stdev = c.pixel_std[ch];
    float* plane = out + static_cast<size_t>(ch) * S * S;
    for (int y = 0; y < resized.height; ++y) {
      const uint8_t* row = resized.rgb.data() + static_cast<size_t>(y) * resized.width * 3;
      for (int xx = 0; xx < resized.width; ++xx)
        plane[static_cast<size_t>(y) * S + xx] = (static_cast<float>(row[3 * xx + ch]) - mean) / stdev;
    }
  }
  return x;
}

}  // namespace segkit::sam
