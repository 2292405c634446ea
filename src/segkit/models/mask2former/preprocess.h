#pragma once
// Mask2FormerImageProcessor's input pipeline: resize (fixed size, or shortest/longest edge),
// sides rounded up to the size divisor, bilinear with antialiasing, rescale and normalise.
#include <ATen/core/Tensor.h>

#include <array>

#include "segkit/image.h"
#include "segkit/mask2former.h"

namespace segkit::mask2former {

// {height, width} the processor resizes an image of this size to.
std::array<int, 2> processed_size(int height, int width, const Mask2FormerProcessorConfig& processor);

// 1 × 3 × H × W float32 pixel values.
at::Tensor preprocess_image(const Image& image, const Mask2FormerProcessorConfig& processor);

}  // namespace segkit::mask2former
