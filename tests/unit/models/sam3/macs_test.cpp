// The vision encoder's analytic multiply-add count against one derived from the checkpoint's
// tensor shapes, at the released geometry (1008 px, ViT-L-sized, windows 24 with 4 global layers).
#include <gtest/gtest.h>

#include "models/sam3/checkpoint.h"
#include "models/sam3/config.h"
#include "models/sam3/macs.h"

namespace segkit::test {
namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

TEST(Sam3Macs, ReleasedVisionEncoderFromItsTensorShapes) {
  const sam3::Sam3Config c = sam3::parse_config(nlohmann::json::object(), "config.json");
  const int64_t N = 72 * 72;
  int64_t linear = 0;  // every 2-D weight of the ViT's layers, once per token
  int64_t neck = 0;    // per level: transposed convs per input pixel, convs per output pixel
  const std::vector<int64_t> level_side = {72, 144, 288};
  for (const auto& [name, shape] : sam3::vision_encoder_shapes(c)) {
    if (name.find("backbone.layers.") != std::string::npos && shape.size() == 2) linear += N * numel(shape);
    if (name.find("neck.") == std::string::npos || shape.size() != 4) continue;
    const int level = name[std::string("vision_encoder.neck.fpn_layers.").size()] - '0';
    if (level == 3) continue;  // ×0.5, dropped by Sam3Model
    const bool first_up = name.find("scale_layers.0") != std::string::npos;
    const bool second_up = name.find("scale_layers.2") != std::string::npos;
    const int64_t in_side = first_up ? 72 : second_up ? 144 : 0;
    const int64_t out_side = level == 0 ? 288 : level == 1 ? 144 : 72;
    neck += (first_up || second_up ? in_side * in_side : out_side * out_side) * numel(shape);
  }
  const int64_t attention = int64_t(28) * 9 * 2 * (576 * 576) * 1024 + 4 * 2 * N * N * 1024;
  const int64_t patch = N * 1024 * 3 * 14 * 14;
  const sam3::VisionMacs m = sam3::count_vision_macs(c);
  EXPECT_EQ(m.vit, patch + linear + attention);
  EXPECT_EQ(m.neck, neck);
  EXPECT_NEAR(m.total() / 1e12, 2.806, 0.001);  // ≈ 5.6 TFLOP per image
  EXPECT_EQ(sam3::count_vision_macs(c, true).neck - m.neck, int64_t(36) * 36 * (1024 * 256 + 256 * 256 * 9));
}

}  // namespace
}  // namespace segkit::test
