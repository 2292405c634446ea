#include "segkit/image.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image/byte_order.h"
#include "image/image_completeness.h"
#include "image/jpeg_decode.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace segkit {

namespace {


std::pair<int, int> probe_jpeg(const uint8_t* d, size_t n) {
  size_t i = 2;
  while (i + 9 < n) {
    if (d[i] != 0xFF) return {-1, -1};
    uint8_t marker = d[i + 1];
    if (marker == 0xFF) { ++i; continue; }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { i += 2; continue; }
    uint16_t len = be16(d + i + 2);
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) return {be16(d + i + 7), be16(d + i + 5)};
    i += 2 + len;
  }
  return {-1, -1};
}

// The formats segkit reads, by signature. Everything else OpenCV could try (JPEG 2000, GDAL,
// OpenEXR, Radiance, PNM...) is refused before any decoder sees it: fewer decoders exposed to
// untrusted files, and none that prints to stderr or spills the input into /tmp.
bool is_supported_format(const uint8_t* d, size_t n) {
  auto starts = [&](const char* sig, size_t len) { return n >= len && std::memcmp(d, sig, len) == 0; };
  return starts("\x89PNG\r\n\x1a\n", 8) || starts("\xff\xd8\xff", 3) || starts("BM", 2) ||
         (starts("RIFF", 4) && n >= 12 && std::memcmp(d + 8, "WEBP", 4) == 0) || starts("II*\0", 4) ||
         starts("MM\0*", 4);
}

bool is_jpeg(const uint8_t* d, size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }

// libjpeg directly (jpeg_decode.h): its damage reports reach us instead of stderr. `damage` may
// already hold what the structure check found; the decoder's finding is kept only if not.
Image decode_jpeg_checked(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits,
                          std::string& damage) {
  DecodedJpeg jpeg = decode_jpeg(data, size, name, limits.max_pixels);
  if (!jpeg.damage.empty()) {
    if (!limits.allow_truncated) refuse_damaged_image(name, jpeg.damage);
    if (damage.empty()) damage = jpeg.damage;
  }
  return std::move(jpeg.image);
}

// PNG, BMP, WebP and TIFF: OpenCV applies EXIF orientation, expands grey and drops alpha.
Image decode_with_opencv(const uint8_t* data, size_t size, const std::string& name) {
  cv::Mat bgr;
  try {
    cv::Mat buf(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
    bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    bgr = cv::Mat();
  }
  if (bgr.empty()) fail(name, "cannot decode image (corrupt or unsupported format)");
  Image img;
  img.width = bgr.cols;
  img.height = bgr.rows;
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  cv::Mat rgb(img.height, img.width, CV_8UC3, img.rgb.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return img;
}

}  // namespace

std::pair<int, int> probe_image_size(const uint8_t* d, size_t n) {
  if (n >= 24 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(d + 12, "IHDR", 4) == 0)
    return {static_cast<int>(std::min<uint32_t>(be32(d + 16), INT32_MAX)),
            static_cast<int>(std::min<uint32_t>(be32(d + 20), INT32_MAX))};
  if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) return probe_jpeg(d, n);
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    int32_t w, h;
    std::memcpy(&w, d + 18, 4);
    std::memcpy(&h, d + 22, 4);
    // Negative height means top-down rows; INT32_MIN has no positive counterpart in int.
    auto magnitude = [](int32_t v) { return static_cast<int>(std::min<int64_t>(std::abs(int64_t(v)), INT32_MAX)); };
    return {magnitude(w), magnitude(h)};
  }
  if (n >= 30 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBPVP8", 7) == 0) {
    if (d[15] == ' ') return {le16(d + 26) & 0x3fff, le16(d + 28) & 0x3fff};
    if (d[15] == 'L') {
      uint32_t b = le32(d + 21);
      return {static_cast<int>((b & 0x3fff) + 1), static_cast<int>(((b >> 14) & 0x3fff) + 1)};
    }
    if (d[15] == 'X') return {static_cast<int>((d[24] | (d[25] << 8) | (d[26] << 16)) + 1),
                               static_cast<int>((d[27] | (d[28] << 8) | (d[29] << 16)) + 1)};
  }
  return {-1, -1};
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
  if (size == 0) fail(name, "empty file, not an image");
  if (!is_supported_format(data, size))
    fail(name, "cannot decode image (not a PNG, JPEG, BMP, WebP or TIFF file)");
  auto [w, h] = probe_image_size(data, size);
  if (w == 0 || h == 0) fail(name, "image has zero width or height");
  if (w > 0 && h > 0 && static_cast<int64_t>(w) * h > limits.max_pixels)
    fail(name, "image is " + std::to_string(w) + "x" + std::to_string(h) + ", more than the limit of " +
                   std::to_string(limits.max_pixels) + " pixels");
  std::string damage = require_complete_image(data, size, name, limits.allow_truncated);
  Image img = is_jpeg(data, size) ? decode_jpeg_checked(data, size, name, limits, damage)
                                  : decode_with_opencv(data, size, name);
  if (!damage.empty()) warn_damaged_image(name, damage);
  if (static_cast<int64_t>(img.width) * img.height > limits.max_pixels)
    fail(name, "image has more than the limit of " + std::to_string(limits.max_pixels) + " pixels");
  return img;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  std::vector<uint8_t> bytes = read_file(path);
  return decode_image(bytes.data(), bytes.size(), path, limits);
}

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
  if (channels != 1 && channels != 3 && channels != 4) throw Error("encode_png: channels must be 1, 3 or 4");
  cv::Mat src(height, width, CV_8UC(channels), const_cast<uint8_t*>(pixels));
  cv::Mat bgr;
  if (channels == 3) cv::cvtColor(src, bgr, cv::COLOR_RGB2BGR);
  else if (channels == 4) cv::cvtColor(src, bgr, cv::COLOR_RGBA2BGRA);
  else bgr = src;
  std::vector<uint8_t> out;
  if (!cv::imencode(".png", bgr, out)) throw Error("cannot encode PNG");
  return out;
}

void save_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels) {
  std::vector<uint8_t> png = encode_png(pixels, width, height, channels);
  write_file_atomically(path, png.data(), png.size());
}

void save_png(const std::string& path, const Image& image) {
  save_png(path, image.rgb.data(), image.width, image.height, 3);
}

}  // namespace segkit
