#pragma once
// Pillow's antialiased bilinear resize of 8-bit images, reproduced to the bit: separable
// passes (horizontal first) with 22-bit fixed-point coefficients and rounding to uint8
// between passes, as Pillow's Resample.c does. Upstream SAM resizes with it, so matching it
// is what makes our embeddings equal to upstream's.
#include "segkit/image.h"

namespace segkit {

Image resize_bilinear_pil(const Image& src, int out_width, int out_height);
// torch's antialiased bilinear interpolation of uint8 images (what torchvision's resize does,
// and so transformers' default image processors): the same filter with int16 weights, whose
// fraction bits depend on the largest weight, so results differ from Pillow's by ±1 at times.
Image resize_bilinear_torch(const Image& src, int out_width, int out_height);

}  // namespace segkit
