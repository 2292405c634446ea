#include "models/mask2former/preprocess.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>

#include "image/resize_pil.h"
#include "segkit/error.h"

namespace segkit::mask2former {

namespace {

// transformers' get_size_with_aspect_ratio: the short side becomes `size` unless the long side
// would pass `max_size`; Python's round (half to even) and int() truncation.
std::array<int, 2> size_with_aspect_ratio(int height, int width, int size, int max_size) {
  double raw = -1;
  const double lo = std::min(height, width), hi = std::max(height, width);
  if (hi / lo * size > max_size) {
    raw = max_size * lo / hi;
    size = static_cast<int>(std::nearbyint(raw));
  }
  if ((height <= width && height == size) || (width <= height && width == size)) return {height, width};
  if (width < height) {
    const double h = raw >= 0 ? raw * height / width : static_cast<double>(size) * height / width;
    return {static_cast<int>(h), size};
  }
  const double w = raw >= 0 ? raw * width / height : static_cast<double>(size) * width / height;
  return {size, static_cast<int>(w)};
}

int round_up(int side, int divisor) { return divisor > 0 ? (side + divisor - 1) / divisor * divisor : side; }

}  // namespace

std::array<int, 2> processed_size(int height, int width, const Mask2FormerProcessorConfig& p) {
  if (!p.do_resize) return {height, width};
  std::array<int, 2> size = p.height > 0 ? std::array<int, 2>{p.height, p.width}
                                         : size_with_aspect_ratio(height, width, p.shortest_edge, p.longest_edge);
  size[0] = round_up(std::max(size[0], 1), p.size_divisor);
  size[1] = round_up(std::max(size[1], 1), p.size_divisor);
  return size;
}

at::Tensor preprocess_image(const Image& image, const Mask2FormerProcessorConfig& p) {
  if (image.width <= 0 || image.height <= 0) throw Error("mask2former: empty image");
  const auto [h, w] = processed_size(image.height, image.width, p);
  const Image resized = (h == image.height && w == image.width) ? image : resize_bilinear_torch(image, w, h);
  // transformers fuses rescale and normalisation: (x − mean/factor) / (std/factor), in float32.
  float offset[3], divisor[3];
  for (int c = 0; c < 3; ++c) {
    const float scale = p.do_rescale ? static_cast<float>(1.0 / p.rescale_factor) : 1.0f;
    offset[c] = p.do_normalize ? p.image_mean[c] * scale : 0.0f;
    divisor[c] = p.do_normalize ? p.image_std[c] * scale : (p.do_rescale ? scale : 1.0f);
  }
  at::Tensor x = at::empty({1, 3, h, w}, at::kFloat);
  float* out = x.data_ptr<float>();
  const size_t plane = static_cast<size_t>(h) * w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c)
      out[c * plane + i] = (static_cast<float>(resized.rgb[3 * i + c]) - offset[c]) / divisor[c];
  return x;
}

}  // namespace segkit::mask2former
