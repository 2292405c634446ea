// The analytic multiply-add count: Swin-T's published 4.5 G at 224×224, and how each part grows
// with the input and the number of queries.
#include <gtest/gtest.h>

#include "core/json_read.h"
#include "models/mask2former/config.h"
#include "models/mask2former/macs.h"
#include "test_util.h"

using namespace segkit;

namespace {
Mask2FormerConfig swin_tiny() {
  const std::string path = test::data_path("mask2former/swin_tiny_coco_panoptic/config.json");
  return mask2former::parse_config(read_json_file(path), path);
}
}  // namespace

TEST(Mask2FormerMacs, SwinTinyBackboneIsThePublishedCount) {
  // Swin-T: 4.5 G multiply-adds at 224×224 (Liu et al. 2021, table 1; no padding at this size).
  const mask2former::ForwardMacs m = mask2former::count_macs(swin_tiny(), 224, 224);
  EXPECT_NEAR(m.backbone / 1e9, 4.49, 0.02);
  EXPECT_GT(m.pixel_decoder, 0);
  EXPECT_GT(m.transformer_decoder, 0);
}

TEST(Mask2FormerMacs, PartsScaleWithTheInputAndTheQueries) {
  Mask2FormerConfig c = swin_tiny();
  const mask2former::ForwardMacs small = mask2former::count_macs(c, 448, 448), large = mask2former::count_macs(c, 896, 896);
  // Four times the pixels: the convolutions and linears four times, window attention too.
  EXPECT_NEAR(static_cast<double>(large.backbone) / small.backbone, 4.0, 0.05);
  EXPECT_NEAR(static_cast<double>(large.pixel_decoder) / small.pixel_decoder, 4.0, 0.05);
  c.num_queries *= 2;
  const mask2former::ForwardMacs more = mask2former::count_macs(c, 448, 448);
  EXPECT_EQ(more.backbone, small.backbone);
  // The queries' projections, attention and mask products double; the memory's key and value
  // projections do not depend on them, and self-attention grows with their square.
  EXPECT_GT(more.transformer_decoder, small.transformer_decoder * 3 / 2);
  EXPECT_LT(more.transformer_decoder, small.transformer_decoder * 5 / 2);
}
