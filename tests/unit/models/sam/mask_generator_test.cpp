// The automatic mask generator end to end against upstream SamAutomaticMaskGenerator on the
// tiny random-weight SAM (tests/data/sam-tiny/amg/<image>.<setting>.json), plus its contract:
// parameter validation, empty results and the output formats.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "amg_golden.h"
#include "sam_fixtures.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/sam_generator.h"
#include "segkit/threads.h"

using namespace segkit;

namespace {

std::shared_ptr<const SamModel> tiny_model() {
  static auto model = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  return model;
}

Image fixture_image(const std::string& name) { return test::sam_case_image(*test::sam_case_file(name)); }

using test::generator_params_from_json;

class MaskGeneratorGolden : public ::testing::TestWithParam<test::AmgGolden> {};

}  // namespace

TEST_P(MaskGeneratorGolden, MatchesUpstreamMaskForMaskInOrder) {
  const nlohmann::json golden = test::load_amg_golden(GetParam());
  SamMaskGenerator generator(tiny_model(), generator_params_from_json(golden["params"]));
  test::expect_records_match_golden(generator.generate(fixture_image(GetParam().image)), golden);
}

INSTANTIATE_TEST_SUITE_P(SamTiny, MaskGeneratorGolden, ::testing::ValuesIn(test::all_amg_goldens()),
                         [](const auto& info) { return info.param.image + "_" + info.param.setting; });

// The small-region pass runs per mask on LibTorch's worker threads, which must share the
// caller's inference mode (it once failed with "Inplace update to inference tensor outside
// InferenceMode" on any thread but the first).
TEST(MaskGenerator, SmallRegionRemovalOnSeveralThreadsMatchesUpstream) {
  const int threads = num_threads();
  set_num_threads(2);
  const nlohmann::json golden = test::load_amg_golden({"truck_small", "min_region"});
  SamMaskGenerator generator(tiny_model(), generator_params_from_json(golden["params"]));
  std::vector<SamMaskRecord> records;
  EXPECT_NO_THROW(records = generator.generate(fixture_image("truck_small")));
  set_num_threads(threads);
  test::expect_records_match_golden(records, golden);
}

TEST(MaskGenerator, DefaultsAreUpstreams) {
  const SamGeneratorParams p;
  EXPECT_EQ(p.points_per_side, 32);
  EXPECT_EQ(p.points_per_batch, 64);
  EXPECT_DOUBLE_EQ(p.pred_iou_thresh, 0.88);
  EXPECT_DOUBLE_EQ(p.stability_score_thresh, 0.95);
  EXPECT_DOUBLE_EQ(p.stability_score_offset, 1.0);
  EXPECT_DOUBLE_EQ(p.box_nms_thresh, 0.7);
  EXPECT_EQ(p.crop_n_layers, 0);
  EXPECT_DOUBLE_EQ(p.crop_nms_thresh, 0.7);
  EXPECT_DOUBLE_EQ(p.crop_overlap_ratio, 512.0 / 1500.0);
  EXPECT_EQ(p.crop_n_points_downscale_factor, 1);
  EXPECT_EQ(p.min_mask_region_area, 0);
  EXPECT_NO_THROW(p.validate());
}

TEST(MaskGenerator, RefusesBadParametersNamingThem) {
  struct Case {
    void (*edit)(SamGeneratorParams&);
    const char* name;
  };
  const Case cases[] = {
      {[](SamGeneratorParams& p) { p.points_per_side = 0; }, "points_per_side"},
      {[](SamGeneratorParams& p) { p.points_per_batch = 0; }, "points_per_batch"},
      {[](SamGeneratorParams& p) { p.pred_iou_thresh = NAN; }, "pred_iou_thresh"},
      {[](SamGeneratorParams& p) { p.stability_score_thresh = -0.1; }, "stability_score_thresh"},
      {[](SamGeneratorParams& p) { p.stability_score_offset = -1; }, "stability_score_offset"},
      {[](SamGeneratorParams& p) { p.box_nms_thresh = -0.5; }, "box_nms_thresh"},
      {[](SamGeneratorParams& p) { p.crop_nms_thresh = 1.5; }, "crop_nms_thresh"},
      {[](SamGeneratorParams& p) { p.crop_n_layers = -1; }, "crop_n_layers"},
      {[](SamGeneratorParams& p) { p.crop_overlap_ratio = 1.0; }, "crop_overlap_ratio"},
      {[](SamGeneratorParams& p) { p.crop_n_points_downscale_factor = 0; }, "crop_n_points_downscale_factor"},
      {[](SamGeneratorParams& p) { p.crop_n_layers = 3, p.points_per_side = 4, p.crop_n_points_downscale_factor = 2; },
       "crop_n_points_downscale_factor"},
      {[](SamGeneratorParams& p) { p.min_mask_region_area = -1; }, "min_mask_region_area"},
  };
  for (const auto& c : cases) {
    SamGeneratorParams p;
    c.edit(p);
    try {
      SamMaskGenerator generator(tiny_model(), p);
      ADD_FAILURE() << c.name << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(c.name, 0), 0u) << e.what();
    }
  }
  // Upstream accepts negative IoU thresholds (they disable the filter); the goldens use them.
  SamGeneratorParams p;
  p.pred_iou_thresh = -1.5;
  EXPECT_NO_THROW(p.validate());
}

TEST(MaskGenerator, ReusingTheImageEmbeddingGivesTheSameRecordsAndReportsProgress) {
  const auto golden = nlohmann::json::parse(read_text_file(test::data_path("sam-tiny/amg/truck_small.crops1.json")));
  const SamGeneratorParams params = generator_params_from_json(golden["params"]);
  const Image image = fixture_image("truck_small");
  SamPredictor predictor(tiny_model());
  predictor.set_image(image);
  const SamEmbedding embedding = predictor.embedding();

  SamMaskGenerator generator(tiny_model(), params);
  const auto fresh = generator.generate(image);
  std::vector<double> seen;
  const auto reused = generator.generate(image, embedding, [&seen](double f) {
    seen.push_back(f);
    return true;
  });
  ASSERT_EQ(reused.size(), fresh.size());
  ASSERT_FALSE(fresh.empty());
  for (size_t i = 0; i < fresh.size(); ++i) {
    EXPECT_EQ(reused[i].segmentation.counts, fresh[i].segmentation.counts) << "mask " << i;
    EXPECT_EQ(reused[i].predicted_iou, fresh[i].predicted_iou) << "mask " << i;
  }
  ASSERT_GE(seen.size(), 2u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
  EXPECT_LT(seen.front(), 1.0);
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}

TEST(MaskGenerator, StopsWhenProgressSaysSoAndStaysUsable) {
  SamGeneratorParams p;
  p.points_per_side = 8;
  p.points_per_batch = 4;
  p.pred_iou_thresh = -1;
  p.stability_score_thresh = 0;
  SamMaskGenerator generator(tiny_model(), p);
  const Image image = fixture_image("truck_small");
  int calls = 0;
  EXPECT_THROW(generator.generate(image, [&calls](double) { return ++calls < 3; }), Cancelled);
  EXPECT_EQ(calls, 3) << "no work after the callback said stop";
  EXPECT_FALSE(generator.generate(image).empty());
}

TEST(MaskGenerator, RefusesAnEmbeddingOfAnotherImageSize) {
  SamPredictor predictor(tiny_model());
  predictor.set_image(fixture_image("truck_small"));
  SamMaskGenerator generator(tiny_model());
  try {
    generator.generate(fixture_image("groceries_tall"), predictor.embedding());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("embedding"), std::string::npos) << e.what();
  }
}

TEST(MaskGenerator, NoSurvivingMaskGivesAnEmptyList) {
  SamGeneratorParams p;
  p.points_per_side = 4;
  p.pred_iou_thresh = 100;
  SamMaskGenerator generator(tiny_model(), p);
  EXPECT_TRUE(generator.generate(fixture_image("truck_small")).empty());
  EXPECT_EQ(mask_records_to_json({}, MaskOutputMode::CocoRle), "[]");
}

TEST(MaskGenerator, WritesUpstreamRecordsInEveryOutputMode) {
  SamMaskRecord r;
  const uint8_t mask[6] = {0, 1, 1, 1, 0, 0};  // 2×3, row-major
  r.segmentation = rle_encode(mask, 2, 3);
  r.area = 3;
  r.bbox = {0, 0, 2, 1};
  r.predicted_iou = 0.5f;
  r.point_coords = {1.5, 0.25};
  r.stability_score = 1.0;
  r.crop_box = {0, 0, 3, 2};
  auto rle = nlohmann::json::parse(mask_records_to_json({r}, MaskOutputMode::UncompressedRle));
  ASSERT_EQ(rle.size(), 1u);
  EXPECT_EQ(rle[0]["segmentation"]["size"], nlohmann::json({2, 3}));
  EXPECT_EQ(rle[0]["segmentation"]["counts"], nlohmann::json({1, 2, 1, 1, 1}));  // column-major runs
  EXPECT_EQ(rle[0]["point_coords"], nlohmann::json({{1.5, 0.25}}));
  EXPECT_EQ(rle[0]["bbox"], nlohmann::json({0, 0, 2, 1}));
  EXPECT_EQ(rle[0]["crop_box"], nlohmann::json({0, 0, 3, 2}));
  const std::string text = mask_records_to_json({r}, MaskOutputMode::UncompressedRle);
  EXPECT_LT(text.find("\"segmentation\""), text.find("\"area\"")) << "upstream's key order";
  auto coco = nlohmann::json::parse(mask_records_to_json({r}, MaskOutputMode::CocoRle));
  EXPECT_EQ(coco[0]["segmentation"]["counts"], rle_to_string(r.segmentation));
  auto binary = nlohmann::json::parse(mask_records_to_json({r}, MaskOutputMode::BinaryMask));
  EXPECT_EQ(binary[0]["segmentation"], nlohmann::json({{false, true, true}, {true, false, false}}));
  EXPECT_EQ(parse_mask_output_mode("coco_rle"), MaskOutputMode::CocoRle);
  EXPECT_THROW(parse_mask_output_mode("png"), Error);

  test::TempDir dir;
  write_mask_folder(dir.file("out"), {r, r});
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/0.png")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/1.png")));
  const Image png = load_image(dir.file("out/1.png"));
  EXPECT_EQ(png.width, 3);
  EXPECT_EQ(png.pixel(1, 0)[0], 255);
  EXPECT_EQ(png.pixel(0, 0)[0], 0);
  EXPECT_EQ(read_text_file(dir.file("out/metadata.csv")),
            "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
            "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n"
            "0,3,0,0,2,1,1.5,0.25,0.5,1.0,0,0,3,2\n"
            "1,3,0,0,2,1,1.5,0.25,0.5,1.0,0,0,3,2");
}

TEST(MaskGenerator, OverlayColoursOnlyMaskedPixels) {
  Image image;
  image.width = 3;
  image.height = 2;
  image.rgb.assign(18, 100);
  SamMaskRecord r;
  const uint8_t mask[6] = {0, 1, 0, 0, 0, 0};
  r.segmentation = rle_encode(mask, 2, 3);
  const Image out = render_mask_overlay(image, {r});
  EXPECT_EQ(out.pixel(0, 0)[0], 100);
  EXPECT_NE(std::vector<uint8_t>(out.pixel(1, 0), out.pixel(1, 0) + 3), std::vector<uint8_t>(3, 100));
}
