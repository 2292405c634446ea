#pragma once
// Upstream utils/amg.py remove_small_regions: fills holes or drops islands smaller than an area,
// with 8-connected components as cv2.connectedComponentsWithStats finds them.
#include <cstdint>
#include <vector>

namespace segkit::amg {

enum class RegionMode { Holes, Islands };

// mask: row-major height×width of 0/1, edited in place. Returns whether anything changed.
// Islands: when every island is small, the largest one is kept (the first of equal ones).
bool remove_small_regions(std::vector<uint8_t>& mask, int height, int width, double area_thresh, RegionMode mode);

}  // namespace segkit::amg
