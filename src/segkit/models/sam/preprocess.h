#pragma once
// Upstream SAM's input pipeline: resize the longest side to the model's image size (Pillow
// bilinear), normalise with the model's mean/std, pad bottom-right with zeros.
#include <ATen/core/Tensor.h>

#include <array>

#include "segkit/image.h"
#include "segkit/sam.h"

namespace segkit::sam {

// Upstream ResizeLongestSide.get_preprocess_shape: {height, width}.
std::array<int, 2> preprocess_shape(int height, int width, int long_side);

// The resized uint8 image (what upstream feeds to the normaliser).
Image resize_longest_side(const Image& image, int long_side);

// 1×3×S×S float tensor from an already resized image.
at::Tensor normalize_and_pad(const Image& resized, const SamConfig& config);

}  // namespace segkit::sam
