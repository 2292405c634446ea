#pragma once
// A PNG decoded as stored (8 or 16 bit, any channel count), after the structural check of
// png_check.h, so a damaged file gives one error line naming it. Internal: not installed.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

cv::Mat decode_png_unchanged(const std::vector<uint8_t>& bytes, const std::string& path);

}  // namespace segkit
