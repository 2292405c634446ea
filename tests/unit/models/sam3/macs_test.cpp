// The analytic multiply-add counts against ones derived from the checkpoint's tensor shapes: the
// vision encoder at the released geometry (1008 px, ViT-L-sized, windows 24 with 4 global
// layers), one phrase (text encoder, DETR, mask decoder) on the tiny fixture's config.
#include <gtest/gtest.h>

#include "models/sam3/checkpoint.h"
#include "models/sam3/config.h"
#include "models/sam3/macs.h"
#include "models/sam3/random_checkpoint.h"
#include "sam3_vision_fixtures.h"

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
  // The mask decoder's 3×3 convolutions (256 wide) of the ×4 and ×2 levels.
  EXPECT_EQ(m.mask_skips, (int64_t(288) * 288 + 144 * 144) * 256 * 256 * 9);
  EXPECT_NEAR(m.total() / 1e12, 2.867, 0.001);  // ≈ 5.7 TFLOP per image
  EXPECT_EQ(sam3::count_vision_macs(c, true).neck - m.neck, int64_t(36) * 36 * (1024 * 256 + 256 * 256 * 9));
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

// Tiny config: 12 × 12 grid (levels 48, 24, 12), width 32 everywhere after the text encoder
// (64 wide, 2 layers), 20 queries, 4 heads, 2 + 2 DETR layers; 32 text positions.
TEST(Sam3Macs, TinyPhraseFromItsTensorShapes) {
  const sam3::Sam3Config c = sam3_tiny_config();
  const int64_t L = 32, N = 144, Q = 20, Qp = 21, d = 32, D = 64, side = 12, fine = 48 * 48;
  ASSERT_EQ(c.vision.backbone.grid_size(), 12);
  ASSERT_EQ(c.detr_decoder.num_queries, Q);
  sam3::PhraseMacs expected;
  // Each weight matrix once per row it is applied to; a convolution once per output pixel.
  for (const auto& [name, shape] : sam3::model_shapes(c)) {
    if (shape.size() < 2 || contains(name, "embed.weight") || contains(name, "embedding") ||
        contains(name, "reference_points") || contains(name, "presence_token"))
      continue;
    int64_t n = numel(shape);
    if (starts_with(name, "text_encoder.text_model.encoder.layers.") || name == "text_projection.weight") {
      expected.text += L * n;
    } else if (starts_with(name, "detr_encoder.")) {
      const bool prompt_side = contains(name, "cross_attn.k_proj") || contains(name, "cross_attn.v_proj");
      expected.detr_encoder += (prompt_side ? L : N) * n;
    } else if (starts_with(name, "detr_decoder.layers.")) {
      const bool kv = contains(name, ".k_proj") || contains(name, ".v_proj");
      const int64_t rows = !kv || contains(name, "self_attn") ? Qp : contains(name, "text_cross") ? L : N;
      expected.detr_decoder += rows * n;
    } else if (starts_with(name, "detr_decoder.")) {  // per layer: the heads and the box bias
      const int64_t rows = contains(name, "presence_head") ? 1 : contains(name, "box_rpb_embed") ? Q * side : Q;
      expected.detr_decoder += c.detr_decoder.num_layers * rows * n;
    } else if (starts_with(name, "dot_product_scoring.")) {
      const int64_t rows = contains(name, "text_mlp") ? L : contains(name, "text_proj") ? 1 : Q;
      expected.detr_decoder += rows * n;
    } else if (starts_with(name, "mask_decoder.")) {
      int64_t rows = 0;
      if (contains(name, "prompt_cross_attn")) rows = contains(name, "k_proj") || contains(name, "v_proj") ? L : N;
      // Four phases of 2×2 kernels (4/9 of the weights each) over the coarser map padded by one.
      if (contains(name, "conv_layers.0")) rows = 4 * 13 * 13 * 4, n /= 9;
      if (contains(name, "conv_layers.1")) rows = 4 * 25 * 25 * 4, n /= 9;  // conv_layers.2: unused
      if (contains(name, "semantic_projection")) rows = fine;
      if (contains(name, "instance_projection")) rows = Q;  // folded into the queries
      if (contains(name, "mask_embedder")) rows = Q;
      expected.mask_decoder += rows * n;
    }
  }
  // The attention products (scores and weighted values), the scoring dot and the mask product.
  expected.text += c.text.num_layers * 2 * L * L * D;
  expected.detr_encoder += c.detr_encoder.num_layers * (2 * N * N * d + 2 * N * L * d);
  expected.detr_decoder += c.detr_decoder.num_layers * (2 * Qp * Qp * d + 2 * Qp * L * d + 2 * Qp * N * d) + Q * d;
  expected.mask_decoder += 2 * N * L * d + Q * d * fine;

  const sam3::PhraseMacs m = sam3::count_phrase_macs(c);
  EXPECT_EQ(m.text, expected.text);
  EXPECT_EQ(m.detr_encoder, expected.detr_encoder);
  EXPECT_EQ(m.detr_decoder, expected.detr_decoder);
  EXPECT_EQ(m.mask_decoder, expected.mask_decoder);
  EXPECT_EQ(m.total(), m.text + m.detect());
}

TEST(Sam3Macs, ReleasedPhraseIsDominatedByTheDetector) {
  const sam3::PhraseMacs m = sam3::count_phrase_macs(sam3::Sam3Config{});
  // 32 tokens through CLIP-L (24 × 12.6 M weights): ≈ 9.7 G; the detector ≈ 100 G at 72 × 72.
  EXPECT_NEAR(m.text / 1e9, 9.7, 0.2);
  EXPECT_GT(m.detect(), 5 * m.text);
}

}  // namespace
}  // namespace segkit::test
