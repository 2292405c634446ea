// COCO RLE encoding throughput (what segment-everything pays per mask), beside a direct port
// of pycocotools' approach (column-major copy, then one compare per pixel) on the same masks.
// Prints JSON lines.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "segkit/rle.h"

namespace {

using Clock = std::chrono::steady_clock;

// Reference: Fortran-order copy as numpy's asfortranarray would make, then rleEncode's loop.
std::vector<uint32_t> reference_encode(const uint8_t* mask, int64_t h, int64_t w) {
  std::vector<uint8_t> col(static_cast<size_t>(h * w));
  for (int64_t x = 0; x < w; ++x)
    for (int64_t y = 0; y < h; ++y) col[static_cast<size_t>(x * h + y)] = mask[y * w + x] != 0;
  std::vector<uint32_t> counts;
  uint8_t p = 0;
  uint32_t c = 0;
  for (uint8_t v : col) {
    if (v != p) {
      counts.push_back(c);
      c = 0;
      p = v;
    }
    ++c;
  }
  counts.push_back(c);
  return counts;
}

}  // namespace

int main() {
  const int64_t h = 1500, w = 2250;  // SAM's typical original-image masks
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> masks;
  for (int i = 0; i < 16; ++i) {  // ellipses of varied size, like segment-everything output
    std::vector<uint8_t> m(static_cast<size_t>(h * w), 0);
    const double cx = std::uniform_real_distribution<double>(0, w)(rng), cy = std::uniform_real_distribution<double>(0, h)(rng);
    const double rx = std::uniform_real_distribution<double>(10, 700)(rng), ry = std::uniform_real_distribution<double>(10, 500)(rng);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double dx = (x - cx) / rx, dy = (y - cy) / ry;
        m[static_cast<size_t>(y * w + x)] = dx * dx + dy * dy <= 1 ? 255 : 0;
      }
    masks.push_back(std::move(m));
  }
  const double mpx = masks.size() * static_cast<double>(h * w) / 1e6;
  auto time_it = [&](auto&& fn) {
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = Clock::now();
      for (const auto& m : masks) fn(m);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return best;
  };
  bool same = true;
  for (const auto& m : masks) same = same && segkit::rle_encode(m.data(), h, w).counts == reference_encode(m.data(), h, w);
  size_t sink = 0;
  const double ours = time_it([&](const std::vector<uint8_t>& m) { sink += segkit::rle_encode(m.data(), h, w).counts.size(); });
  const double ref = time_it([&](const std::vector<uint8_t>& m) { sink += reference_encode(m.data(), h, w).size(); });
  std::cout << nlohmann::json{{"bench", "rle_encode"}, {"impl", "segkit"}, {"height", h}, {"width", w},
                              {"masks", masks.size()}, {"mpx_per_s", mpx / ours}, {"ms_per_mask", 1e3 * ours / masks.size()}}
                   .dump()
            << "\n"
            << nlohmann::json{{"bench", "rle_encode"}, {"impl", "pycocotools_port"}, {"mpx_per_s", mpx / ref},
                              {"ms_per_mask", 1e3 * ref / masks.size()}}
                   .dump()
            << "\n"
            << nlohmann::json{{"bench", "rle_encode"}, {"compare", "segkit_vs_pycocotools_port"}, {"speedup", ref / ours},
                              {"same_counts", same}, {"sink", sink}}
                   .dump()
            << std::endl;
  return same ? 0 : 1;
}
