#pragma once
// Tiny synthetic segmentation data sets for the U-Net tests: bright disks (class 1) and, with
// three classes, dark squares (class 2) on a noisy grey background.
#include <filesystem>
#include <random>
#include <string>

#include "segkit/image.h"

namespace segkit::test {

inline void write_synthetic_dataset(const std::string& dir, int count, int size, int classes = 2,
                                    bool binary_255 = true, uint32_t seed = 1) {
  std::filesystem::create_directories(dir + "/images");
  std::filesystem::create_directories(dir + "/masks");
  std::mt19937 rng(seed);
  for (int n = 0; n < count; ++n) {
    std::vector<uint8_t> image(static_cast<size_t>(size) * size), mask(image.size(), 0);
    const int cx = size / 4 + static_cast<int>(rng() % (size / 2)), cy = size / 4 + static_cast<int>(rng() % (size / 2));
    const int r = size / 6 + static_cast<int>(rng() % (size / 8 + 1));
    const int sx = static_cast<int>(rng() % (size - size / 4)), sy = static_cast<int>(rng() % (size - size / 4));
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const size_t i = static_cast<size_t>(y) * size + x;
        int v = 110 + static_cast<int>(rng() % 30);
        if (classes > 2 && x >= sx && x < sx + size / 5 && y >= sy && y < sy + size / 5) {
          v = 30 + static_cast<int>(rng() % 20);
          mask[i] = 2;
        }
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) {
          v = 200 + static_cast<int>(rng() % 40);
          mask[i] = 1;
        }
        image[i] = static_cast<uint8_t>(v);
      }
    if (binary_255 && classes == 2)
      for (auto& m : mask) m = m ? 255 : 0;
    const std::string stem = "img" + std::to_string(n);
    save_png(dir + "/images/" + stem + ".png", image.data(), size, size, 1);
    save_png(dir + "/masks/" + stem + ".png", mask.data(), size, size, 1);
  }
}

}  // namespace segkit::test
