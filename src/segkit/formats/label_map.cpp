#include "segkit/label_map.h"

#include <algorithm>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "image/png_check.h"
#include "image/png_decode.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace segkit {

LabelImage load_label_png(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  const std::string problem = png_structure_problem(bytes.data(), bytes.size());
  if (!problem.empty()) fail(path, problem);
  const uint64_t w = (uint64_t(bytes[16]) << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19];
  const uint64_t h = (uint64_t(bytes[20]) << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23];
  if (w * h > 1'000'000'000) fail(path, "label map is " + std::to_string(w) + "x" + std::to_string(h) + ", too large");
  const int color_type = bytes[25];
  // OpenCV would expand a palette to colours and lose the indices, which are the labels.
  if (color_type == 3) fail(path, "palette PNG; label maps must be single-channel grayscale (8 or 16 bit)");
  if (color_type != 0) fail(path, "label map must be a single-channel grayscale PNG (PNG colour type " +
                                      std::to_string(color_type) + ")");
  const cv::Mat m = decode_png_unchanged(bytes, path);
  if (m.channels() != 1) fail(path, "label map must have one channel, found " + std::to_string(m.channels()));
  LabelImage out;
  out.width = m.cols;
  out.height = m.rows;
  out.labels.resize(static_cast<size_t>(m.rows) * m.cols);
  if (m.depth() == CV_8U) {
    out.bit_depth = 8;
    for (int y = 0; y < m.rows; ++y) {
      const uint8_t* src = m.ptr<uint8_t>(y);
      std::copy(src, src + m.cols, out.labels.begin() + static_cast<ptrdiff_t>(y) * m.cols);
    }
  } else if (m.depth() == CV_16U) {
    out.bit_depth = 16;
    for (int y = 0; y < m.rows; ++y) {
      const uint16_t* src = m.ptr<uint16_t>(y);
      std::copy(src, src + m.cols, out.labels.begin() + static_cast<ptrdiff_t>(y) * m.cols);
    }
  } else {
    fail(path, "label map must be 8- or 16-bit");
  }
  return out;
}

void save_label_png(const std::string& path, const uint16_t* labels, int width, int height) {
  const size_t n = static_cast<size_t>(width) * height;
  const bool wide = std::any_of(labels, labels + n, [](uint16_t v) { return v > 255; });
  cv::Mat m;
  if (wide) {
    m = cv::Mat(height, width, CV_16UC1, const_cast<uint16_t*>(labels)).clone();
  } else {
    m = cv::Mat(height, width, CV_8UC1);
    for (size_t i = 0; i < n; ++i) m.data[i] = static_cast<uint8_t>(labels[i]);
  }
  std::vector<uint8_t> png;
  if (!cv::imencode(".png", m, png)) fail(path, "cannot encode PNG");
  write_file_atomically(path, png.data(), png.size());
}

}  // namespace segkit
