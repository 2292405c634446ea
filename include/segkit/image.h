#pragma once
// Images enter segkit as 8-bit RGB, rows top to bottom, pixels interleaved (H×W×3), the
// layout upstream SAM takes from PIL. Decoding applies EXIF orientation, expands grey to
// RGB and drops alpha, as PIL's convert("RGB") does.
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3
  const uint8_t* pixel(int x, int y) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

// The pixel limit images get unless a caller passes its own: 100 MP, or the environment
// variable SEGKIT_MAX_PIXELS, or whatever set_default_max_pixels chose (the CLI's --max-pixels).
int64_t default_max_pixels();
void set_default_max_pixels(int64_t max_pixels);  // Error unless > 0

// Whether files that end early (a JPEG without its end-of-image marker, a TIFF strip past the
// end, ...) are decoded anyway, with a warning on stderr, instead of refused: false unless
// set_default_allow_truncated(true) (the CLI's --allow-truncated).
bool default_allow_truncated();
void set_default_allow_truncated(bool allow);

struct ImageLimits {
  int64_t max_pixels = default_max_pixels();  // decompression bombs are refused before decoding
  bool allow_truncated = default_allow_truncated();
};

// Error "path: problem" for missing, empty, corrupt, truncated, unsupported or oversized files.
Image load_image(const std::string& path, const ImageLimits& limits = {});
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits = {});

// Width and height from the file header alone (PNG, JPEG, BMP, WebP, TIFF where known), or
// {-1,-1} when the format is not recognised by this quick probe.
std::pair<int, int> probe_image_size(const uint8_t* data, size_t size);

// Writes an 8-bit PNG (1 channel grey, 3 channels RGB, 4 RGBA) atomically.
void save_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels);
void save_png(const std::string& path, const Image& image);

// PNG bytes in memory (for HTTP responses).
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);

}  // namespace segkit
