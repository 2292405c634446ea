// Panoptic quality against panopticapi: every "panoptic" case of the metric fixtures.
#include <gtest/gtest.h>

#include <fstream>

#include "metric_fixtures.h"
#include "segkit/error.h"
#include "segkit/panoptic.h"

namespace {

using nlohmann::json;
using segkit::test::expect_metric_near;
using segkit::test::MetricCase;

segkit::PanopticInputs inputs_of(const MetricCase& c) {
  segkit::PanopticInputs in;
  in.gt_json = c.dir + c.json.at("gt_json").get<std::string>();
  in.pred_json = c.dir + c.json.at("pred_json").get<std::string>();
  in.gt_dir = c.dir + c.json.at("gt_folder").get<std::string>();
  in.pred_dir = c.dir + c.json.at("pred_folder").get<std::string>();
  in.threads = 2;
  return in;
}

void expect_group(const json& want, const segkit::PanopticGroupResult& got, const std::string& name) {
  if (want.is_null()) {
    EXPECT_EQ(got.n, 0) << name;
    EXPECT_TRUE(std::isnan(got.pq)) << name;
    return;
  }
  expect_metric_near(want.at("pq"), got.pq, name + " pq");
  expect_metric_near(want.at("sq"), got.sq, name + " sq");
  expect_metric_near(want.at("rq"), got.rq, name + " rq");
  EXPECT_EQ(want.at("n").get<int>(), got.n) << name;
}

class PanopticFixture : public ::testing::TestWithParam<MetricCase> {};

TEST_P(PanopticFixture, MatchesReference) {
  const MetricCase& c = GetParam();
  SCOPED_TRACE(c.json.at("description").get<std::string>());
  const auto r = segkit::evaluate_panoptic(inputs_of(c));
  const json& e = c.json.at("expected");
  expect_group(e.at("All"), r.all, "All");
  expect_group(e.at("Things"), r.things, "Things");
  expect_group(e.at("Stuff"), r.stuff, "Stuff");
  ASSERT_EQ(e.at("per_class").size(), r.category_ids.size());
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    const std::string id = std::to_string(r.category_ids[k]);
    const json& pc = e.at("per_class").at(id);
    expect_metric_near(pc.at("pq"), r.per_class[k].pq, id + " pq");
    expect_metric_near(pc.at("sq"), r.per_class[k].sq, id + " sq");
    expect_metric_near(pc.at("rq"), r.per_class[k].rq, id + " rq");
    const json& st = e.at("per_class_stats").at(id);
    EXPECT_EQ(st.at("tp").get<int64_t>(), r.per_class_stats[k].tp) << id;
    EXPECT_EQ(st.at("fp").get<int64_t>(), r.per_class_stats[k].fp) << id;
    EXPECT_EQ(st.at("fn").get<int64_t>(), r.per_class_stats[k].fn) << id;
    expect_metric_near(st.at("iou_sum"), r.per_class_stats[k].iou_sum, id + " iou_sum");
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PanopticFixture, ::testing::ValuesIn(segkit::test::load_metric_cases("panoptic")),
                         segkit::test::metric_case_name);

TEST(Panoptic, MissingPredictionAndUnknownSegmentsAreErrors) {
  const auto cases = segkit::test::load_metric_cases("panoptic");
  ASSERT_FALSE(cases.empty());
  segkit::test::TempDir dir;
  auto in = inputs_of(cases[0]);
  json pred = json::parse(std::ifstream(in.pred_json));
  // A JSON segment that the PNG lacks.
  pred["annotations"][0]["segments_info"].push_back({{"id", 16777215}, {"category_id", pred["annotations"][0]["segments_info"][0]["category_id"]}});
  std::ofstream(dir.file("pred.json")) << pred.dump();
  in.pred_json = dir.file("pred.json");
  try {
    segkit::evaluate_panoptic(in);
    ADD_FAILURE() << "no error";
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("16777215"), std::string::npos) << e.what();
  }
  pred["annotations"] = json::array();
  std::ofstream(dir.file("pred.json")) << pred.dump();
  EXPECT_THROW(segkit::evaluate_panoptic(in), segkit::Error);
}

}  // namespace
