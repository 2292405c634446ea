#pragma once
// Crops of the automatic mask generator (upstream utils/amg.py): the crop layout and the
// moves between a crop's frame and the original image's frame.
#include <ATen/core/Tensor.h>

#include <array>
#include <vector>

namespace segkit::amg {

struct CropBox {
  std::array<int64_t, 4> xyxy;  // in original-image pixels, x1/y1 exclusive
  int layer = 0;
};

// The whole image first, then for layer i (1-based) 2^i × 2^i overlapping crops, x-major as
// upstream's product(x0s, y0s). Integer arithmetic exactly as upstream's Python.
std::vector<CropBox> generate_crop_boxes(int64_t height, int64_t width, int n_layers, double overlap_ratio);

// Boxes (…×4 XYXY, any dtype) and points (…×2) from the crop frame to the image frame.
at::Tensor uncrop_boxes_xyxy(const at::Tensor& boxes, const std::array<int64_t, 4>& crop_box);
at::Tensor uncrop_points(const at::Tensor& points, const std::array<int64_t, 4>& crop_box);
// Pads N×h×w crop masks with zeros to N×orig_h×orig_w; the input itself when the crop is the image.
at::Tensor uncrop_masks(const at::Tensor& masks, const std::array<int64_t, 4>& crop_box, int64_t orig_h,
                        int64_t orig_w);

// N boxes (crop frame) → N bools: a side within atol of the crop's edge but not of the image's.
at::Tensor is_box_near_crop_edge(const at::Tensor& boxes, const std::array<int64_t, 4>& crop_box,
                                 const std::array<int64_t, 4>& orig_box, double atol = 20.0);

}  // namespace segkit::amg
