#include "models/sam3/preprocess.h"

#include <ATen/ops/empty.h>

#include "image/resize_pil.h"
#include "segkit/error.h"

namespace segkit::sam3 {

Image resize_for_model(const Image& image, const ProcessorConfig& p) {
  if (image.width <= 0 || image.height <= 0) throw Error("sam3: empty image");
  if (image.width == p.width && image.height == p.height) return image;
  return resize_bilinear_torch(image, p.width, p.height);
}

at::Tensor preprocess_image(const Image& image, const ProcessorConfig& p) {
  const Image resized = resize_for_model(image, p);
  const int h = resized.height, w = resized.width;
  // transformers fuses rescale and normalisation: (x − mean/factor) / (std/factor) in float32.
  float offset[3], divisor[3];
  for (int c = 0; c < 3; ++c) {
    const float scale = p.do_rescale ? static_cast<float>(1.0 / p.rescale_factor) : 1.0f;
    offset[c] = p.do_normalize ? p.image_mean[c] * scale : 0.0f;
    divisor[c] = p.do_normalize ? p.image_std[c] * scale : scale;
  }
  at::Tensor x = at::empty({1, 3, h, w}, at::kFloat);
  float* out = x.data_ptr<float>();
  const size_t plane = static_cast<size_t>(h) * w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) out[c * plane + i] = (static_cast<float>(resized.rgb[3 * i + c]) - offset[c]) / divisor[c];
  return x;
}

}  // namespace segkit::sam3
