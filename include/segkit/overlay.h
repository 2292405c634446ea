#pragma once
// Pictures for people: masks blended over the image in distinct colours, prompts drawn on top.
#include <array>
#include <vector>

#include "segkit/image.h"

namespace segkit {

// A distinct, stable colour for mask number i.
std::array<uint8_t, 3> mask_color(size_t i);

// Blends each mask (height×width, nonzero = inside, same size as the image) in its own colour
// and outlines it. Later masks are drawn over earlier ones.
Image overlay_masks(const Image& image, const std::vector<const uint8_t*>& masks, float alpha = 0.5f);

// Foreground points as green discs, background points red; boxes as yellow rectangles.
void draw_points(Image& image, const std::vector<std::array<float, 2>>& points, const std::vector<int>& labels);
void draw_box(Image& image, const std::array<float, 4>& box);

}  // namespace segkit
