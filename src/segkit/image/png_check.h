#pragma once
// Structural check of a PNG file before a decoder sees it: signature, chunk lengths, every
// chunk's CRC and a final IEND. Truncated or bit-flipped files are refused here with a precise
// message, instead of libpng printing its own complaint to stderr from inside OpenCV.
#include <cstddef>
#include <cstdint>
#include <string>

namespace segkit {

// Empty when the file looks sound, else the problem ("truncated", "chunk IDAT: CRC mismatch").
std::string png_structure_problem(const uint8_t* data, size_t size);

}  // namespace segkit
