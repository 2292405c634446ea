// COCOeval (segm) against pycocotools: every "coco_eval" case of the metric fixtures.
#include <gtest/gtest.h>

#include "metric_fixtures.h"
#include "segkit/coco_eval.h"
#include "segkit/error.h"

namespace {

using nlohmann::json;
using segkit::test::expect_metric_near;
using segkit::test::MetricCase;

class CocoEvalFixture : public ::testing::TestWithParam<MetricCase> {};

TEST_P(CocoEvalFixture, StatsAndPerCategoryMatchReference) {
  const MetricCase& c = GetParam();
  SCOPED_TRACE(c.json.at("description").get<std::string>());
  ASSERT_EQ(c.json.at("iou_type"), "segm");
  const auto r = segkit::coco_evaluate_segm_files(c.dir + c.json.at("gt_json").get<std::string>(),
                                                  c.dir + c.json.at("results_json").get<std::string>(), 2);
  const json& e = c.json.at("expected");
  ASSERT_EQ(e.at("stats").size(), 12u);
  for (size_t i = 0; i < 12; ++i) expect_metric_near(e.at("stats")[i], r.stats[i], segkit::kCocoStatLabels[i]);
  EXPECT_EQ(r.category_ids, c.json.at("params").at("catIds").get<std::vector<int64_t>>());
  ASSERT_EQ(e.at("per_category_ap").size(), r.category_ids.size());
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    const std::string id = std::to_string(r.category_ids[k]);
    expect_metric_near(e.at("per_category_ap").at(id), r.per_category_ap[k], "AP of category " + id);
    expect_metric_near(e.at("per_category_ap50").at(id), r.per_category_ap50[k], "AP50 of category " + id);
    expect_metric_near(e.at("per_category_ar100").at(id), r.per_category_ar100[k], "AR100 of category " + id);
    EXPECT_EQ(r.per_category_num_gt[k], e.at("per_category_num_gt").at(id).get<int64_t>()) << "category " << id;
  }
}

TEST_P(CocoEvalFixture, ThresholdsAreBitIdenticalToTheReference) {
  const json& p = GetParam().json.at("params");
  EXPECT_EQ(segkit::coco_iou_thresholds(), p.at("iouThrs").get<std::vector<double>>());
  EXPECT_EQ(segkit::coco_recall_thresholds(), p.at("recThrs").get<std::vector<double>>());
  EXPECT_EQ(p.at("maxDets"), json({1, 10, 100}));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CocoEvalFixture, ::testing::ValuesIn(segkit::test::load_metric_cases("coco_eval")),
                         segkit::test::metric_case_name);

const char* kGt = R"({"images": [{"id": 1, "height": 4, "width": 5}], "categories": [{"id": 1}],
  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                   "segmentation": {"size": [4, 5], "counts": "92203"}}]})";

TEST(CocoEval, PerfectDetectionScoresOne) {
  const auto r = segkit::coco_evaluate_segm(
      kGt, "gt.json", R"([{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [4, 5], "counts": "92203"}}])",
      "res.json");
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
  EXPECT_EQ(r.stats[4], -1);
}

TEST(CocoEval, BadInputNamesTheFileAndProblem) {
  auto expect_error = [](const std::string& gt, const std::string& res, const std::string& needle) {
    try {
      segkit::coco_evaluate_segm(gt, "gt.json", res, "res.json");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const segkit::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string ok_seg = R"("segmentation": {"size": [4, 5], "counts": "92203"})";
  expect_error("{\"images\": [", "[]", "gt.json: malformed JSON");
  expect_error(kGt, "{}", "res.json: results must be a JSON list");
  expect_error(kGt, R"([{"image_id": 9, "category_id": 1, "score": 1, )" + ok_seg + "}]", "res.json: result 0: image_id 9");
  expect_error(kGt, R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [4, 5], "counts": "92209"}}])",
               "res.json: result 0");
  expect_error(kGt, R"([{"image_id": 1, "category_id": 1, )" + ok_seg + "}]", "score");
}

}  // namespace
