#include "postprocess/mask_boxes.h"

#include <ATen/ops/any.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>

#include <algorithm>

#include "segkit/error.h"

namespace segkit::amg {

// First and last set index along the last dimension of `present` (N×L bool). With nothing set,
// first = L and last = 0, so an empty mask is recognised by last < first, as upstream.
static std::pair<at::Tensor, at::Tensor> first_last(const at::Tensor& present) {
  const int64_t len = present.size(-1);
  const at::Tensor coords = present.mul(at::arange(len, at::kLong).unsqueeze(0));
  const at::Tensor last = std::get<0>(coords.max(-1));
  const at::Tensor first = std::get<0>(coords.add(present.logical_not().mul(len)).min(-1));
  return {first, last};
}

at::Tensor batched_mask_to_box(const at::Tensor& masks) {
  if (masks.dim() < 2) fail("batched_mask_to_box", "masks must be at least 2-dimensional");
  std::vector<int64_t> out_shape(masks.sizes().begin(), masks.sizes().end() - 2);
  out_shape.push_back(4);
  if (masks.numel() == 0) return at::zeros(out_shape, at::kLong);

  const at::Tensor flat = masks.reshape({-1, masks.size(-2), masks.size(-1)}).to(at::kBool);
  // Reduce each axis once: rows holding any pixel, columns holding any pixel.
  const auto [top, bottom] = first_last(at::any(flat, -1));
  const auto [left, right] = first_last(at::any(flat, -2));
  const at::Tensor empty = right.lt(left).logical_or(bottom.lt(top));
  const at::Tensor boxes = at::stack({left, top, right, bottom}, -1).mul(empty.logical_not().unsqueeze(-1));
  return boxes.reshape(out_shape);
}

std::array<int64_t, 4> mask_to_box(const uint8_t* mask, int64_t height, int64_t width) {
  int64_t left = width, top = height, right = -1, bottom = -1;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = mask + y * width;
    int64_t first = 0;
    while (first < width && !row[first]) ++first;
    if (first == width) continue;
    int64_t last = width - 1;
    while (!row[last]) --last;
    if (top == height) top = y;
    bottom = y;
    left = std::min(left, first);
    right = std::max(right, last);
  }
  if (bottom < 0) return {0, 0, 0, 0};
  return {left, top, right, bottom};
}

}  // namespace segkit::amg
