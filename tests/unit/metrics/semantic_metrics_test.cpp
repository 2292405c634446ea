// Semantic metrics against Hugging Face evaluate's mean_iou (and the fixture's Dice, confusion
// matrix and sklearn cross-checks): every "semantic" case of the metric fixtures.
#include <gtest/gtest.h>

#include <fstream>

#include "metric_fixtures.h"
#include "segkit/error.h"
#include "segkit/label_map.h"
#include "segkit/metrics.h"

namespace {

using nlohmann::json;
using segkit::test::expect_metric_near;
using segkit::test::MetricCase;

segkit::SemanticOptions options_of(const json& c) {
  segkit::SemanticOptions o;
  o.num_labels = c.at("num_labels");
  o.ignore_index = c.at("ignore_index");
  o.reduce_labels = c.at("reduce_labels");
  if (!c.at("label_map").is_null())
    for (const auto& p : c.at("label_map")) o.label_map.emplace_back(p[0].get<int64_t>(), p[1].get<int64_t>());
  if (!c.at("nan_to_num").is_null()) o.nan_to_num = c.at("nan_to_num").get<double>();
  return o;
}

struct Pair {
  segkit::LabelImage pred, gt;
};

std::vector<Pair> load_images(const MetricCase& c) {
  std::vector<Pair> out;
  for (const auto& im : c.json.at("images")) {
    Pair p{segkit::load_label_png(c.dir + im.at("pred").get<std::string>()),
           segkit::load_label_png(c.dir + im.at("gt").get<std::string>())};
    EXPECT_EQ(p.gt.height, im.at("height").get<int>());
    EXPECT_EQ(p.gt.width, im.at("width").get<int>());
    EXPECT_EQ(p.gt.bit_depth, c.json.at("bit_depth").get<int>());
    out.push_back(std::move(p));
  }
  return out;
}

void expect_vector(const json& want, const std::vector<double>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) expect_metric_near(want[i], got[i], what + "[" + std::to_string(i) + "]");
}

void expect_result(const json& e, const segkit::SemanticResult& r, const segkit::SemanticAccumulator& acc) {
  const json& m = e.at("mean_iou");
  expect_metric_near(m.at("mean_iou"), r.mean_iou, "mean_iou");
  expect_metric_near(m.at("mean_accuracy"), r.mean_accuracy, "mean_accuracy");
  expect_metric_near(m.at("overall_accuracy"), r.overall_accuracy, "overall_accuracy");
  expect_vector(m.at("per_category_iou"), r.per_category_iou, "per_category_iou");
  expect_vector(m.at("per_category_accuracy"), r.per_category_accuracy, "per_category_accuracy");
  EXPECT_EQ(r.area_intersect, e.at("total_area_intersect").get<std::vector<int64_t>>());
  EXPECT_EQ(r.area_union, e.at("total_area_union").get<std::vector<int64_t>>());
  EXPECT_EQ(r.area_pred, e.at("total_area_pred_label").get<std::vector<int64_t>>());
  EXPECT_EQ(r.area_label, e.at("total_area_label").get<std::vector<int64_t>>());
  EXPECT_EQ(r.num_evaluated_pixels, e.at("num_evaluated_pixels").get<int64_t>());
  EXPECT_EQ(r.num_gt_out_of_range_pixels, e.at("num_gt_out_of_range_pixels").get<int64_t>());
  EXPECT_EQ(r.num_pred_out_of_range_pixels, e.at("num_pred_out_of_range_pixels").get<int64_t>());
  expect_metric_near(e.at("pixel_accuracy"), r.pixel_accuracy, "pixel_accuracy");
  expect_vector(e.at("dice_per_class"), r.per_category_dice, "dice_per_class");
  expect_metric_near(e.at("mean_dice"), r.mean_dice, "mean_dice");

  const json& cm = e.at("confusion_matrix");
  const int n = cm.at("num_labels");
  ASSERT_EQ(n, acc.num_labels());
  json entries = json::array();
  const auto matrix = acc.confusion_matrix();
  for (int g = 0; g < n; ++g)
    for (int p = 0; p < n; ++p) {
      const int64_t v = matrix[static_cast<size_t>(g) * n + p];
      EXPECT_EQ(v, acc.confusion(g, p));
      if (v != 0) entries.push_back({g, p, v});
    }
  EXPECT_EQ(entries, cm.at("entries"));

  // sklearn agrees on present classes: macro F1 over them is mean Dice, micro F1 is 2ΣI/(ΣP+ΣG).
  const json& sk = e.at("sklearn");
  if (!sk.is_null() && !sk.at("f1_macro_present").is_null()) {
    expect_metric_near(sk.at("f1_macro_present"), r.mean_dice, "sklearn f1_macro_present");
    int64_t i = 0, pg = 0;
    for (int c = 0; c < n; ++c) i += r.area_intersect[c], pg += r.area_pred[c] + r.area_label[c];
    expect_metric_near(sk.at("f1_micro"), 2.0 * i / pg, "sklearn f1_micro");
    expect_metric_near(sk.at("jaccard_macro_present"), r.mean_iou, "sklearn jaccard_macro_present");
  }
}

class SemanticFixture : public ::testing::TestWithParam<MetricCase> {};

TEST_P(SemanticFixture, AccumulatorMatchesReference) {
  const MetricCase& c = GetParam();
  SCOPED_TRACE(c.json.at("description").get<std::string>());
  const auto images = load_images(c);
  segkit::SemanticAccumulator acc(options_of(c.json));
  for (const auto& im : images) acc.add(im.pred.labels.data(), im.gt.labels.data(), im.gt.labels.size());
  expect_result(c.json.at("expected"), acc.result(), acc);
}

TEST_P(SemanticFixture, Int32InputAndMergeGiveTheSameResult) {
  const MetricCase& c = GetParam();
  const auto images = load_images(c);
  const auto options = options_of(c.json);
  // Alternate images between two accumulators fed int32 data, then merge.
  segkit::SemanticAccumulator a(options), b(options);
  for (size_t i = 0; i < images.size(); ++i) {
    std::vector<int32_t> pred(images[i].pred.labels.begin(), images[i].pred.labels.end());
    std::vector<int32_t> gt(images[i].gt.labels.begin(), images[i].gt.labels.end());
    (i % 2 ? b : a).add(pred.data(), gt.data(), gt.size());
  }
  a.merge(b);
  expect_result(c.json.at("expected"), a.result(), a);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SemanticFixture, ::testing::ValuesIn(segkit::test::load_metric_cases("semantic")),
                         segkit::test::metric_case_name);

TEST(MetricFixtures, EveryCaseHasATestedKind) {
  std::ifstream in(segkit::test::data_path("metrics/index.json"));
  const json index = json::parse(in);
  size_t total = 0;
  for (const char* kind : {"semantic", "rle", "panoptic", "coco_eval"}) total += segkit::test::load_metric_cases(kind).size();
  EXPECT_EQ(total, index.at("cases").size());
  EXPECT_GE(total, 30u);
}

TEST(SemanticMetrics, LabelMapIsAppliedInOrderBeforeReduceLabels) {
  segkit::SemanticOptions o;
  o.num_labels = 3;
  o.label_map = {{10, 20}, {20, 1}};
  EXPECT_EQ(segkit::preprocess_gt_label(o, 10), 1);
  EXPECT_EQ(segkit::preprocess_gt_label(o, 20), 1);
  o.reduce_labels = true;
  EXPECT_EQ(segkit::preprocess_gt_label(o, 10), 0);
  EXPECT_EQ(segkit::preprocess_gt_label(o, 0), 255);
  EXPECT_EQ(segkit::preprocess_gt_label(o, 255), 255);
  EXPECT_EQ(segkit::preprocess_gt_label(o, 256), 255);
}

TEST(SemanticMetrics, LargeAndNegativeInt32LabelsAreOutOfRange) {
  segkit::SemanticOptions o;
  o.num_labels = 2;
  o.label_map = {{100000, 1}};
  segkit::SemanticAccumulator acc(o);
  const int32_t gt[] = {100000, -5, 70000, 0, 255};
  const int32_t pred[] = {1, 0, 1, -1, 0};
  const auto s = acc.add_image(pred, gt, 5);
  EXPECT_EQ(s.num_evaluated_pixels, 4);
  EXPECT_EQ(s.num_gt_out_of_range_pixels, 2);
  EXPECT_EQ(s.first_gt_out_of_range, -5);
  EXPECT_EQ(s.num_pred_out_of_range_pixels, 1);
  EXPECT_EQ(s.first_pred_out_of_range, -1);
  EXPECT_EQ(acc.confusion(1, 1), 1);
}

TEST(SemanticMetrics, RejectsBadOptionsAndMismatchedMerge) {
  segkit::SemanticOptions o;
  EXPECT_THROW(segkit::SemanticAccumulator{o}, segkit::Error);
  o.num_labels = 3;
  segkit::SemanticAccumulator a(o);
  o.ignore_index = 0;
  segkit::SemanticAccumulator b(o);
  EXPECT_THROW(a.merge(b), segkit::Error);
}

}  // namespace
