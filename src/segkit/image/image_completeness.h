#pragma once
// Whether an image file is all there, from its structure alone (no pixel is decoded). OpenCV's
// JPEG, WebP, TIFF and BMP decoders fill what a cut file lacks with grey or zeros and report
// success; these checks refuse such files before a decoder sees them, as Pillow does ("image
// file is truncated"). PNG has its own, stricter check (png_check.h).
#include <cstddef>
#include <cstdint>
#include <string>

namespace segkit {

// Empty when the file's structure reaches its end marker or every pixel block it declares lies
// within the file; else the problem, e.g. "truncated JPEG (the data ends before the image's
// end-of-image marker)". Formats without such a check (or not recognised) answer empty.
std::string image_truncation_problem(const uint8_t* data, size_t size);

// Error "name: problem" for a damaged PNG (png_check.h) or a file that ends early. With
// allow_truncated, a file that ends early is not an error: its problem is returned instead
// (empty when the file is whole), for warn_damaged_image.
std::string require_complete_image(const uint8_t* data, size_t size, const std::string& name, bool allow_truncated);

// Error "name: problem; --allow-truncated decodes what is there".
[[noreturn]] void refuse_damaged_image(const std::string& name, const std::string& problem);
// The one warning line for a damaged file decoded anyway.
void warn_damaged_image(const std::string& name, const std::string& problem);

}  // namespace segkit
