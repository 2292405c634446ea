// The automatic mask generator's helpers against upstream's own outputs (utils/amg.py and
// torchvision's batched_nms, tests/data/sam-tiny/amg/units.*).
#include <ATen/Context.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/nonzero.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include <cstring>

#include "amg_test_util.h"
#include "models/sam/crop_boxes.h"
#include "models/sam/point_grid.h"
#include "postprocess/box_nms.h"
#include "postprocess/mask_boxes.h"
#include "postprocess/mask_measure.h"
#include "postprocess/small_regions.h"
#include "postprocess/stability_score.h"
#include "segkit/error.h"

using namespace segkit;
using segkit::test::amg_golden;
using segkit::test::amg_units_json;

static void expect_same(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  EXPECT_TRUE(at::equal(actual, expected)) << what << "\nactual:   " << actual.flatten().index_select(0, at::nonzero(actual.flatten().ne(expected.flatten())).flatten())
                                           << "\nexpected: " << expected.flatten().index_select(0, at::nonzero(actual.flatten().ne(expected.flatten())).flatten()) << at::nonzero(actual.flatten().ne(expected.flatten())).flatten();
}

TEST(AmgPointGrid, ReproducesUpstreamGridsBitForBit) {
  for (int n : {1, 4, 32}) {
    const at::Tensor grid = amg::build_point_grid(n);
    EXPECT_EQ(grid.scalar_type(), at::kDouble);
    expect_same(grid.to(at::kFloat), amg_golden("point_grid." + std::to_string(n)), "point_grid." + std::to_string(n));
  }
  EXPECT_DOUBLE_EQ(amg::build_point_grid(1)[0][0].item<double>(), 0.5);
}

TEST(AmgPointGrid, ReproducesUpstreamLayerGrids) {
  const int params[3][3] = {{32, 0, 1}, {32, 1, 2}, {16, 2, 2}};
  for (int i = 0; i < 3; ++i) {
    const auto grids = amg::build_all_layer_point_grids(params[i][0], params[i][1], params[i][2]);
    ASSERT_EQ(grids.size(), size_t(params[i][1] + 1));
    for (size_t layer = 0; layer < grids.size(); ++layer) {
      const std::string name = "layer_grids." + std::to_string(i) + "." + std::to_string(layer);
      expect_same(grids[layer].to(at::kFloat), amg_golden(name), name);
    }
  }
}

TEST(AmgPointGrid, RefusesAnEmptyGrid) { EXPECT_THROW(amg::build_point_grid(0), segkit::Error); }

TEST(AmgCropBoxes, ReproducesUpstreamLayouts) {
  const auto& cases = amg_units_json().at("generate_crop_boxes");
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    const auto boxes = amg::generate_crop_boxes(c["im_size"][0], c["im_size"][1], c["n_layers"], c["overlap_ratio"]);
    ASSERT_EQ(boxes.size(), c["crop_boxes"].size()) << c["im_size"].dump();
    for (size_t i = 0; i < boxes.size(); ++i) {
      EXPECT_EQ(nlohmann::json(boxes[i].xyxy), c["crop_boxes"][i]) << c["im_size"].dump() << " box " << i;
      EXPECT_EQ(boxes[i].layer, c["layer_idxs"][i].get<int>());
    }
  }
}

TEST(AmgStabilityScore, ReproducesUpstreamScores) {
  const at::Tensor logits = amg_golden("stability.logits");
  const std::pair<const char*, std::pair<double, double>> cases[] = {
      {"stability.0.0.1.0", {0.0, 1.0}}, {"stability.0.5.0.25", {0.5, 0.25}}, {"stability.-1.0.2.0", {-1.0, 2.0}}};
  for (const auto& [name, p] : cases) {
    const at::Tensor score = amg::calculate_stability_score(logits, p.first, p.second);
    EXPECT_EQ(score.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::allclose(score, amg_golden(name), 0, 1e-7)) << name << "\n" << score << amg_golden(name);
  }
}

TEST(AmgStabilityScore, RowSumsWrapInInt16AsUpstream) {
  // 40000 set pixels in one row: int16 wraps to 40000 - 65536, which upstream then carries on.
  at::Tensor logits = at::full({1, 2, 40000}, 5.0f);
  logits[0][1].fill_(-5.0f);  // second row below both thresholds
  at::Tensor wide = at::full({1, 1, 40000}, 0.5f);  // inside the band: union only
  const at::Tensor both = at::cat({logits, wide}, 1);
  const float expected = float(40000 - 65536) / float(2 * (40000 - 65536));
  EXPECT_FLOAT_EQ(amg::calculate_stability_score(both, 0.0, 1.0)[0].item<float>(), expected);
  // An all-background mask has no union: NaN, as upstream.
  EXPECT_TRUE(at::isnan(amg::calculate_stability_score(at::full({1, 4, 4}, -5.0f), 0.0, 1.0))[0].item<bool>());
}

TEST(AmgBoxNms, ReproducesTorchvisionBatchedNmsIncludingTies) {
  const at::Tensor boxes = amg_golden("nms.boxes"), scores = amg_golden("nms.scores");
  const at::Tensor categories = amg_golden("nms.categories");
  ASSERT_EQ(scores[10].item<float>(), scores[11].item<float>());
  for (const char* thr : {"0.3", "0.5", "0.7", "0.95"}) {
    const double t = std::stod(thr);
    expect_same(amg::batched_nms(boxes, scores, categories, t), amg_golden(std::string("nms.keep.") + thr),
                std::string("nms.keep.") + thr);
    expect_same(amg::batched_nms(boxes, scores, at::zeros_like(categories), t),
                amg_golden(std::string("nms.keep_single_class.") + thr), std::string("nms.keep_single_class.") + thr);
  }
}

TEST(AmgBoxNms, PerCategoryPathAgreesWithTheOffsetPath) {
  // Above 1000 boxes torchvision switches to one NMS per category; the kept set must not change
  // and the result is still ordered by score.
  const at::Tensor boxes = amg_golden("nms.boxes"), scores = amg_golden("nms.scores");
  const at::Tensor categories = amg_golden("nms.categories");
  std::vector<at::Tensor> c, expected;
  const at::Tensor keep_one = amg_golden("nms.keep.0.5");
  for (int k = 0; k < 6; ++k) {  // 1200 boxes: six copies, each with its own categories
    c.push_back(categories.add(100 * k));
    expected.push_back(keep_one.add(200 * k));
  }
  const at::Tensor all_scores = scores.repeat({6});
  const at::Tensor keep = amg::batched_nms(boxes.repeat({6, 1}), all_scores, at::cat(c), 0.5);
  expect_same(std::get<0>(keep.sort()), std::get<0>(at::cat(expected).sort()), "kept set");
  const at::Tensor kept_scores = all_scores.index_select(0, keep);
  EXPECT_TRUE(kept_scores.slice(0, 1).le(kept_scores.slice(0, 0, -1)).all().item<bool>());
}

TEST(AmgBoxNms, EmptyInputKeepsNothing) {
  EXPECT_EQ(amg::batched_nms(at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong), 0.7).numel(), 0);
}

TEST(AmgMaskBoxes, ReproducesUpstreamBoxesAndEmptyMasks) {
  const at::Tensor masks = amg_golden("masks").to(at::kBool);
  expect_same(amg::batched_mask_to_box(masks), amg_golden("batched_mask_to_box"), "batched_mask_to_box");
  // Leading dimensions are kept; a single mask gives a single box.
  EXPECT_EQ(amg::batched_mask_to_box(masks.reshape({2, 3, 40, 50})).sizes(), (at::IntArrayRef{2, 3, 4}));
  expect_same(amg::batched_mask_to_box(masks[1]), amg_golden("batched_mask_to_box")[1], "single");
  EXPECT_EQ(amg::batched_mask_to_box(at::zeros({0, 5, 5}, at::kBool)).sizes(), (at::IntArrayRef{0, 4}));
}

TEST(AmgMaskBoxes, OneMaskWithoutTensorsGivesTheSameBoxes) {
  const at::Tensor masks = amg_golden("masks").to(at::kByte).contiguous();
  const at::Tensor want = amg_golden("batched_mask_to_box");
  const int64_t h = masks.size(1), w = masks.size(2);
  for (int64_t i = 0; i < masks.size(0); ++i) {
    const auto box = amg::mask_to_box(masks[i].data_ptr<uint8_t>(), h, w);
    for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(box[size_t(k)], want[i][k].item<int64_t>()) << "mask " << i;
  }
  std::vector<uint8_t> one(12, 0);
  EXPECT_EQ(amg::mask_to_box(one.data(), 3, 4), (std::array<int64_t, 4>{0, 0, 0, 0}));
  one[2 * 4 + 3] = 1;  // the last pixel alone
  EXPECT_EQ(amg::mask_to_box(one.data(), 3, 4), (std::array<int64_t, 4>{3, 2, 3, 2}));
}

TEST(AmgCropEdge, ReproducesUpstreamNearEdgeTest) {
  const auto& j = amg_units_json().at("near_edge");
  const auto crop = j["crop_box"].get<std::array<int64_t, 4>>();
  const auto orig = j["orig_box"].get<std::array<int64_t, 4>>();
  // Upstream passes integer boxes (from masks); the golden boxes are integral floats.
  const at::Tensor boxes = amg_golden("near_edge.boxes");
  expect_same(amg::is_box_near_crop_edge(boxes, crop, orig, j["atol"]), amg_golden("near_edge.result"), "float");
  expect_same(amg::is_box_near_crop_edge(boxes.to(at::kLong), crop, orig, j["atol"]), amg_golden("near_edge.result"),
              "int64");
}

TEST(AmgUncrop, MovesBoxesPointsAndMasksIntoTheImageFrame) {
  const std::array<int64_t, 4> crop{10, 20, 40, 60};
  const at::Tensor boxes = at::zeros({3, 4}, at::kLong);
  EXPECT_TRUE(at::equal(amg::uncrop_boxes_xyxy(boxes, crop)[2], at::tensor(std::vector<int64_t>{10, 20, 10, 20})));
  const at::Tensor points = at::full({2, 2}, 0.5, at::kDouble);
  EXPECT_TRUE(at::equal(amg::uncrop_points(points, crop)[0], at::tensor(std::vector<double>{10.5, 20.5})));
  const at::Tensor masks = at::ones({2, 40, 30}, at::kBool);
  const at::Tensor full = amg::uncrop_masks(masks, crop, 100, 50);
  ASSERT_EQ(full.sizes(), (at::IntArrayRef{2, 100, 50}));
  EXPECT_EQ(full.sum().item<int64_t>(), 2 * 40 * 30);
  EXPECT_TRUE(full[1][20][10].item<bool>());
  EXPECT_FALSE(full[1][19][10].item<bool>());
  EXPECT_TRUE(full[1][59][39].item<bool>());
  EXPECT_FALSE(full[1][60][39].item<bool>());
  EXPECT_FALSE(full[1][59][40].item<bool>());
  // The whole image as the crop: no copy.
  EXPECT_TRUE(amg::uncrop_masks(masks, {0, 0, 30, 40}, 40, 30).is_same(masks));
}

TEST(AmgSmallRegions, ReproducesUpstreamHolesAndIslands) {
  const at::Tensor input = amg_golden("small_regions.mask");
  const int h = int(input.size(0)), w = int(input.size(1));
  for (const char* mode : {"holes", "islands"}) {
    for (int area : {10, 20, 100}) {
      const std::string name = std::string("small_regions.") + mode + "." + std::to_string(area);
      std::vector<uint8_t> mask(input.data_ptr<uint8_t>(), input.data_ptr<uint8_t>() + input.numel());
      const bool changed = amg::remove_small_regions(
          mask, h, w, area, std::string(mode) == "holes" ? amg::RegionMode::Holes : amg::RegionMode::Islands);
      const at::Tensor expected = amg_golden(name);
      EXPECT_EQ(changed, !at::equal(expected, input)) << name;
      EXPECT_EQ(std::memcmp(mask.data(), expected.data_ptr<uint8_t>(), mask.size()), 0) << name;
    }
  }
}

TEST(AmgSmallRegions, KeepsTheLargestIslandWhenAllAreSmall) {
  std::vector<uint8_t> mask(10 * 10, 0);
  mask[0] = 1;                                 // island of 1
  mask[55] = mask[56] = mask[65] = 1;          // island of 3
  const bool changed = amg::remove_small_regions(mask, 10, 10, 50, amg::RegionMode::Islands);
  EXPECT_TRUE(changed);
  EXPECT_EQ(mask[0], 0);
  EXPECT_EQ(mask[55] + mask[56] + mask[65], 3);
}

static void expect_measure_matches_helpers(const at::Tensor& logits, double threshold, double offset) {
  const amg::MeasuredMasks m = amg::measure_masks(logits, threshold, offset);
  const at::Tensor stability = amg::calculate_stability_score(logits, threshold, offset);
  // NaN (no union) must stay NaN: compare bit patterns.
  expect_same(m.stability.view(at::kInt), stability.view(at::kInt), "stability");
  const at::Tensor masks = logits.gt(threshold);
  expect_same(m.masks, masks, "masks");
  expect_same(m.boxes, amg::batched_mask_to_box(masks), "boxes");
}

TEST(AmgMeasureMasks, OnePassEqualsUpstreamsStabilityThresholdAndBoxes) {
  const at::Tensor golden = amg_golden("stability.logits");
  for (auto [t, o] : {std::pair{0.0, 1.0}, std::pair{0.5, 0.25}, std::pair{-1.0, 2.0}}) {
    expect_measure_matches_helpers(golden, t, o);
    expect_same(amg::measure_masks(golden, t, o).stability,
                amg_golden("stability." + std::string(t == 0.0 ? "0.0" : t == 0.5 ? "0.5" : "-1.0") + "." +
                           (o == 1.0 ? "1.0" : o == 0.25 ? "0.25" : "2.0")),
                "golden stability");
  }
  at::manual_seed(3);
  expect_measure_matches_helpers(at::randn({5, 70, 33}).mul(3), 0.0, 1.0);
  // Empty masks (box zeros, NaN stability) and a row wider than int16 can count.
  at::Tensor wide = at::full({2, 2, 40000}, -5.0f);
  wide[1][0].fill_(5.0f);
  wide[1][1].slice(0, 100, 200).fill_(0.5f);
  expect_measure_matches_helpers(wide, 0.0, 1.0);
}
