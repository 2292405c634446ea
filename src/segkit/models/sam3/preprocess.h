#pragma once
// Sam3ImageProcessor's input pipeline as transformers 5.17 runs it (torchvision backend):
// resize to the fixed size ignoring the aspect ratio (torch's uint8 antialiased bilinear), then
// rescale and normalise fused. An alpha channel is dropped, the colour of transparent pixels
// kept (what the fixtures show for 5.17; its PIL path would composite over white instead), so
// segkit's decoded RGB (segkit/image.h) is the processor's input as is.
#include <ATen/core/Tensor.h>

#include "models/sam3/config.h"
#include "segkit/image.h"

namespace segkit::sam3 {

// The resized 8-bit image the processor normalises (for tests and debugging).
Image resize_for_model(const Image& image, const ProcessorConfig& processor);

// 1 × 3 × height × width float32 pixel values.
at::Tensor preprocess_image(const Image& image, const ProcessorConfig& processor);

}  // namespace segkit::sam3
