// `segkit eval panoptic` end to end on every "panoptic" fixture case, and its bad-input contract.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "metric_fixtures.h"

namespace fs = std::filesystem;

namespace {

using nlohmann::json;
using segkit::test::MetricCase;
using segkit::test::run_cli;

std::vector<std::string> args_of(const MetricCase& c, const std::string& pred_dir = "") {
  return {"eval", "panoptic", "--gt-json", c.dir + "gt.json", "--gt-dir", c.dir + "gt", "--pred-json", c.dir + "pred.json",
          "--pred-dir", pred_dir.empty() ? c.dir + "pred" : pred_dir};
}

class EvalPanopticCli : public ::testing::TestWithParam<MetricCase> {};

TEST_P(EvalPanopticCli, JsonMatchesReference) {
  const MetricCase& c = GetParam();
  auto args = args_of(c);
  args.insert(args.end(), {"--json", "-"});
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json got = json::parse(r.out);
  const json& e = c.json.at("expected");
  for (const char* group : {"All", "Things", "Stuff"}) {
    const json& g = got.at(group);
    EXPECT_EQ(g.size(), 4u);
    if (e.at(group).is_null()) {
      EXPECT_EQ(g.at("n"), 0);
      EXPECT_TRUE(g.at("pq").is_null());
      continue;
    }
    for (const char* k : {"pq", "sq", "rq"}) segkit::test::expect_metric_near(e.at(group).at(k), g.at(k).get<double>(), group);
    EXPECT_EQ(g.at("n"), e.at(group).at("n"));
  }
  ASSERT_EQ(got.at("per_class").size(), e.at("per_class").size());
  for (const auto& [id, want] : e.at("per_class").items())
    for (const char* k : {"pq", "sq", "rq"})
      segkit::test::expect_metric_near(want.at(k), got.at("per_class").at(id).at(k).get<double>(), id + " " + k);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EvalPanopticCli, ::testing::ValuesIn(segkit::test::load_metric_cases("panoptic")),
                         segkit::test::metric_case_name);

TEST(EvalPanopticCliErrors, CorruptPngNamesTheFile) {
  const auto cases = segkit::test::load_metric_cases("panoptic");
  ASSERT_FALSE(cases.empty());
  const MetricCase& c = cases[0];
  segkit::test::TempDir dir;
  fs::copy(c.dir + "pred", dir.file("pred"));
  const std::string victim = fs::directory_iterator(dir.file("pred"))->path().string();
  fs::resize_file(victim, fs::file_size(victim) / 2);
  auto r = run_cli(args_of(c, dir.file("pred")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(fs::path(victim).filename().string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cli(args_of(c));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Things"), std::string::npos) << r.out;
}

}  // namespace
