#pragma once
// Label maps: single-channel 8- or 16-bit PNGs whose pixel values are class labels.
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct LabelImage {
  int width = 0;
  int height = 0;
  int bit_depth = 8;              // as stored in the file
  std::vector<uint16_t> labels;   // height * width, row-major
};

// Error "path: problem" for unreadable, non-PNG, corrupt, palette or multi-channel files.
LabelImage load_label_png(const std::string& path);

// Writes an 8-bit PNG when every label is < 256, else a 16-bit one.
void save_label_png(const std::string& path, const uint16_t* labels, int width, int height);

}  // namespace segkit
