#include "models/sam/crop_boxes.h"

#include <ATen/ops/any.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/isclose.h>
#include <ATen/ops/logical_and.h>
#include <ATen/ops/logical_not.h>
#include <ATen/ops/tensor.h>

#include <algorithm>
#include <cmath>

namespace segkit::amg {

std::vector<CropBox> generate_crop_boxes(int64_t height, int64_t width, int n_layers, double overlap_ratio) {
  std::vector<CropBox> boxes;
  boxes.push_back({{0, 0, width, height}, 0});
  const int64_t short_side = std::min(height, width);
  // Python: int(math.ceil((overlap * (n - 1) + orig_len) / n)) with true division.
  auto crop_len = [](int64_t orig_len, int64_t n, int64_t overlap) {
    return static_cast<int64_t>(std::ceil(static_cast<double>(overlap * (n - 1) + orig_len) / static_cast<double>(n)));
  };
  for (int layer = 0; layer < n_layers; ++layer) {
    const int64_t n = int64_t(1) << (layer + 1);
    const auto overlap = static_cast<int64_t>(overlap_ratio * static_cast<double>(short_side) * (2.0 / static_cast<double>(n)));
    const int64_t crop_w = crop_len(width, n, overlap);
    const int64_t crop_h = crop_len(height, n, overlap);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t x0 = (crop_w - overlap) * i, y0 = (crop_h - overlap) * j;
        boxes.push_back({{x0, y0, std::min(x0 + crop_w, width), std::min(y0 + crop_h, height)}, layer + 1});
      }
    }
  }
  return boxes;
}

static at::Tensor add_offset(const at::Tensor& t, std::vector<int64_t> offset) {
  at::Tensor o = at::tensor(offset, at::TensorOptions().dtype(at::kLong));
  return t.add(o);  // broadcasts over any leading dimensions, promotes like upstream
}

at::Tensor uncrop_boxes_xyxy(const at::Tensor& boxes, const std::array<int64_t, 4>& crop_box) {
  return add_offset(boxes, {crop_box[0], crop_box[1], crop_box[0], crop_box[1]});
}

at::Tensor uncrop_points(const at::Tensor& points, const std::array<int64_t, 4>& crop_box) {
  return add_offset(points, {crop_box[0], crop_box[1]});
}

at::Tensor uncrop_masks(const at::Tensor& masks, const std::array<int64_t, 4>& crop_box, int64_t orig_h,
                        int64_t orig_w) {
  const auto [x0, y0, x1, y1] = crop_box;
  if (x0 == 0 && y0 == 0 && x1 == orig_w && y1 == orig_h) return masks;
  const int64_t pad_x = orig_w - (x1 - x0), pad_y = orig_h - (y1 - y0);
  return at::constant_pad_nd(masks, {x0, pad_x - x0, y0, pad_y - y0}, 0);
}

at::Tensor is_box_near_crop_edge(const at::Tensor& boxes, const std::array<int64_t, 4>& crop_box,
                                 const std::array<int64_t, 4>& orig_box, double atol) {
  const auto as_float = [](const std::array<int64_t, 4>& b) {
    return at::tensor(std::vector<float>{float(b[0]), float(b[1]), float(b[2]), float(b[3])}).unsqueeze(0);
  };
  at::Tensor image_frame = uncrop_boxes_xyxy(boxes, crop_box).to(at::kFloat);
  at::Tensor near_crop = at::isclose(image_frame, as_float(crop_box), /*rtol=*/0, atol);
  at::Tensor near_image = at::isclose(image_frame, as_float(orig_box), /*rtol=*/0, atol);
  return at::any(at::logical_and(near_crop, at::logical_not(near_image)), 1);
}

}  // namespace segkit::amg
