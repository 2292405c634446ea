// Sam3Processor's post-processing (instance, semantic, detection) from the raw outputs, against
// transformers 5.17's on the tiny fixture model (tests/data/sam3/README.md).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/sam3/postprocess.h"
#include "sam3_mask_fixtures.h"
#include "segkit/error.h"

namespace segkit::test {
namespace {

using sam3::ImageSize;

const std::vector<std::string> kCases = {"img1_text0", "synth_rgba_text0", "synth_rgb_text1"};
constexpr double kBoxTolerancePx = 1e-3;
constexpr double kScoreTolerance = 1e-4;
constexpr double kMaskAgreement = 0.999;

sam3::RawOutputs raw_of(const std::string& name) {
  sam3::RawOutputs r;
  r.pred_logits = sam3_mask_case(name, "out.pred_logits");
  r.presence_logits = sam3_mask_case(name, "out.presence_logits");
  r.pred_boxes = sam3_mask_case(name, "out.pred_boxes");
  r.pred_masks = sam3_mask_case(name, "out.pred_masks");
  r.semantic_seg = sam3_mask_case(name, "out.semantic_seg");
  return r;
}

std::vector<ImageSize> sizes_of(const std::string& name) {
  const at::Tensor s = sam3_mask_case(name, "in.original_sizes");  // B × (H, W)
  std::vector<ImageSize> sizes;
  for (int64_t i = 0; i < s.size(0); ++i) sizes.push_back({s[i][0].item<int64_t>(), s[i][1].item<int64_t>()});
  return sizes;
}

double score_threshold(const std::string& name) { return sam3_mask_thresholds(name).at("score").get<double>(); }

// Fraction of equal pixels, and the expected areas equal the stored ones.
double agreement(const at::Tensor& got, const std::string& name, const std::string& key) {
  const at::Tensor expected = unpack_mask(sam3_mask_case(name, key + "_packed"), sam3_mask_case(name, key + "_shape"));
  EXPECT_TRUE(at::equal(expected.to(at::kLong).flatten(expected.dim() == 3 ? 1 : 0).sum(-1).view({-1}),
                        sam3_mask_case(name, key + "_area")));
  if (got.sizes() != expected.sizes()) return 0.0;
  return got.to(at::kByte).eq(expected).to(at::kDouble).mean().item<double>();
}

TEST(Sam3PostProcess, InstanceSegmentationMatchesTransformers) {
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const auto results = sam3::post_process_instance_segmentation(
        raw_of(name), score_threshold(name), sam3_mask_thresholds(name).at("mask").get<double>(), sizes_of(name));
    ASSERT_EQ(results.size(), 1u);
    const sam3::Instances& r = results[0];
    ASSERT_TRUE(at::equal(r.query, sam3_mask_case(name, "pp.b0.inst.keep_idx")));
    EXPECT_LE((r.scores - sam3_mask_case(name, "pp.b0.inst.scores")).abs().max().item<double>(), kScoreTolerance);
    EXPECT_LE((r.boxes - sam3_mask_case(name, "pp.b0.inst.boxes")).abs().max().item<double>(), kBoxTolerancePx);
    EXPECT_GE(agreement(r.masks, name, "pp.b0.inst.masks"), kMaskAgreement);
  }
}

TEST(Sam3PostProcess, ObjectDetectionMatchesTransformers) {
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const auto results = sam3::post_process_object_detection(raw_of(name), score_threshold(name), sizes_of(name));
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(results[0].masks.defined());
    EXPECT_LE((results[0].scores - sam3_mask_case(name, "pp.b0.det.scores")).abs().max().item<double>(),
              kScoreTolerance);
    EXPECT_LE((results[0].boxes - sam3_mask_case(name, "pp.b0.det.boxes")).abs().max().item<double>(),
              kBoxTolerancePx);
  }
}

TEST(Sam3PostProcess, SemanticSegmentationMatchesTransformers) {
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const auto maps = sam3::post_process_semantic_segmentation(
        raw_of(name), sam3_mask_thresholds(name).at("semantic").get<double>(), sizes_of(name));
    ASSERT_EQ(maps.size(), 1u);
    EXPECT_GE(agreement(maps[0], name, "pp.b0.sem.map"), kMaskAgreement);
  }
}

TEST(Sam3PostProcess, WithoutTargetSizesBoxesStayNormalized) {
  const std::string name = kCases[1];
  const sam3::RawOutputs raw = raw_of(name);
  const auto r = sam3::post_process_instance_segmentation(raw, score_threshold(name))[0];
  EXPECT_TRUE(at::equal(r.boxes, raw.pred_boxes[0].index_select(0, r.query)));
  EXPECT_EQ(r.masks.sizes(), (std::vector<int64_t>{r.query.numel(), 48, 48}));
  EXPECT_EQ(sam3::post_process_semantic_segmentation(raw)[0].sizes(), (std::vector<int64_t>{48, 48}));
}

TEST(Sam3PostProcess, NothingAboveTheThresholdGivesEmptyResults) {
  const std::string name = kCases[1];
  const auto r = sam3::post_process_instance_segmentation(raw_of(name), 1.0, 0.5, sizes_of(name))[0];
  EXPECT_EQ(r.scores.numel(), 0);
  EXPECT_EQ(r.boxes.sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(r.masks.sizes(), (std::vector<int64_t>{0, 90, 120}));
}

TEST(Sam3PostProcess, BatchOfTwoImagesMatchesEachAlone) {
  const std::string a = kCases[1], b = kCases[2];
  const sam3::RawOutputs ra = raw_of(a), rb = raw_of(b);
  sam3::RawOutputs both;
  both.pred_logits = at::cat({ra.pred_logits, rb.pred_logits});
  both.presence_logits = at::cat({ra.presence_logits, rb.presence_logits});
  both.pred_boxes = at::cat({ra.pred_boxes, rb.pred_boxes});
  both.pred_masks = at::cat({ra.pred_masks, rb.pred_masks});
  const std::vector<ImageSize> sizes = {sizes_of(a)[0], sizes_of(b)[0]};
  const double threshold = 0.16;  // each image keeps its best query only, far from the next
  const auto results = sam3::post_process_instance_segmentation(both, threshold, 0.5, sizes);
  ASSERT_EQ(results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const std::string& name = i == 0 ? a : b;
    const auto alone = sam3::post_process_instance_segmentation(i == 0 ? ra : rb, threshold, 0.5, sizes_of(name))[0];
    EXPECT_EQ(alone.query.numel(), 1);
    EXPECT_TRUE(at::equal(results[i].query, alone.query));
    EXPECT_TRUE(at::equal(results[i].masks, alone.masks));
    EXPECT_TRUE(at::equal(results[i].boxes, alone.boxes));
  }
}

TEST(Sam3PostProcess, BadShapesAreOneLineErrors) {
  const std::string name = kCases[1];
  auto expect_error = [](auto&& call, const std::string& words) {
    try {
      call();
      ADD_FAILURE() << "no error for " << words;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(words), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  sam3::RawOutputs raw = raw_of(name);
  expect_error([&] { sam3::post_process_instance_segmentation(raw, 0.3, 0.5, {{90, 120}, {90, 120}}); },
               "2 target sizes for 1 images");
  expect_error([&] { sam3::post_process_instance_segmentation(raw, 0.3, 0.5, {{0, 120}}); }, "must be positive");
  expect_error([&] { sam3::post_process_instance_segmentation(raw, NAN, 0.5); }, "finite");
  raw.pred_masks = raw.pred_masks.slice(1, 0, 5);
  expect_error([&] { sam3::post_process_instance_segmentation(raw); }, "pred_masks must be 1 × 20");
  raw = raw_of(name);
  raw.pred_boxes = raw.pred_boxes.slice(2, 0, 2);
  expect_error([&] { sam3::post_process_object_detection(raw); }, "pred_boxes must be");
  raw = raw_of(name);
  raw.presence_logits = at::zeros({2, 1});
  expect_error([&] { sam3::post_process_object_detection(raw); }, "presence_logits must be 1 × 1");
  raw.semantic_seg = raw.semantic_seg.squeeze(1);
  expect_error([&] { sam3::post_process_semantic_segmentation(raw); }, "semantic_seg must be");
}

}  // namespace
}  // namespace segkit::test
