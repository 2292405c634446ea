// `segkit eval instance` end to end on every "coco_eval" fixture case, and its bad-input contract.
#include <gtest/gtest.h>

#include <fstream>

#include "metric_fixtures.h"

namespace {

using nlohmann::json;
using segkit::test::MetricCase;
using segkit::test::run_cli;

class EvalInstanceCli : public ::testing::TestWithParam<MetricCase> {};

TEST_P(EvalInstanceCli, JsonMatchesReference) {
  const MetricCase& c = GetParam();
  const auto r = run_cli({"eval", "instance", "--gt", c.dir + "gt.json", "--results", c.dir + "results.json", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json got = json::parse(r.out);
  EXPECT_EQ(got.size(), 2u);
  const json& e = c.json.at("expected");
  ASSERT_EQ(got.at("stats").size(), 12u);
  for (size_t i = 0; i < 12; ++i) segkit::test::expect_metric_near(e.at("stats")[i], got.at("stats")[i].get<double>(), "stat");
  ASSERT_EQ(got.at("per_category_ap").size(), e.at("per_category_ap").size());
  for (const auto& [id, want] : e.at("per_category_ap").items())
    segkit::test::expect_metric_near(want, got.at("per_category_ap").at(id).get<double>(), "category " + id);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EvalInstanceCli, ::testing::ValuesIn(segkit::test::load_metric_cases("coco_eval")),
                         segkit::test::metric_case_name);

TEST(EvalInstanceCliErrors, MalformedInputGivesOneLineNamingTheFile) {
  segkit::test::TempDir dir;
  const std::string gt = segkit::test::data_path("metrics/coco_eval/hand_check/gt.json");
  std::ofstream(dir.file("bad.json")) << "[{\"image_id\": 1, \"category_id\": 1, \"score\": 0.5, "
                                         "\"segmentation\": {\"size\": [10, 12], \"counts\": \"zzzzzz\"}}]";
  auto r = run_cli({"eval", "instance", "--gt", gt, "--results", dir.file("bad.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::ofstream(dir.file("bad.json")) << "[{";
  r = run_cli({"eval", "instance", "--gt", gt, "--results", dir.file("bad.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("malformed JSON"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cli({"eval", "instance", "--gt", gt, "--results", segkit::test::data_path("metrics/coco_eval/hand_check/results.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Average Precision"), std::string::npos) << r.out;
}

}  // namespace
