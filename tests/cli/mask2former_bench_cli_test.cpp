// `segkit bench` on the tiny Mask2Former: one JSON object with each stage's time, the forward
// pass, each task's post-processing, multiply-adds and memory per input size (no timing
// assertions); one-line errors for options it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mask2former_fixtures.h"
#include "test_util.h"

using namespace segkit;

namespace {
std::vector<std::string> bench_args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"bench", "--model", test::mask2former_tiny(), "--image",
                                   test::data_path("mask2former/inputs/img0.png"), "--repeat", "1", "--threads", "1", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
}  // namespace

TEST(Mask2FormerBenchCli, PrintsStagesMacsAndMemoryPerSize) {
  auto r = test::run_cli(bench_args({"--size", "64x96", "--size", "processor", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "mask2former");
  EXPECT_EQ(j["precision"], "fp32");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["repeat"], 1);
  EXPECT_EQ(j["image_size"], nlohmann::json::array({512, 341}));
  EXPECT_GT(j["parameters"].get<int64_t>(), 0);
  for (const char* key : {"load_ms", "peak_rss_mb"}) EXPECT_TRUE(j[key].is_number()) << key;
  EXPECT_FALSE(j["machine"]["cpu"].get<std::string>().empty());
  ASSERT_EQ(j["runs"].size(), 2u);
  const nlohmann::json& fixed = j["runs"][0];
  EXPECT_EQ(fixed["size"], "64x96");
  EXPECT_EQ(fixed["input_height"], 64);
  EXPECT_EQ(fixed["input_width"], 96);
  EXPECT_EQ(j["runs"][1]["size"], "processor");
  EXPECT_EQ(j["runs"][1]["input_height"], 256);  // the tiny model's fixed 256×256 processor
  for (const nlohmann::json& run : j["runs"]) {
    for (const char* stage : {"preprocess", "backbone", "pixel_decoder", "transformer_decoder", "forward"}) {
      EXPECT_TRUE(run[stage]["ms"].is_number()) << stage;
      EXPECT_TRUE(run[stage]["cpu_ms"].is_number()) << stage;
    }
    for (const char* task : {"semantic", "instance", "panoptic"}) EXPECT_TRUE(run["postprocess"][task]["ms"].is_number()) << task;
    const nlohmann::json& macs = run["gmacs"];
    EXPECT_GT(macs["backbone"].get<double>(), 0.0);
    EXPECT_GT(macs["pixel_decoder"].get<double>(), 0.0);
    EXPECT_GT(macs["transformer_decoder"].get<double>(), 0.0);
    EXPECT_NEAR(run["gflop"].get<double>(), 2 * macs["total"].get<double>(), 1e-9);
    EXPECT_GT(run["gflop_per_s"].get<double>(), 0.0);
    EXPECT_TRUE(run.contains("peak_rss_mb"));
  }
  // A larger input, more arithmetic.
  EXPECT_GT(j["runs"][1]["gflop"].get<double>(), fixed["gflop"].get<double>());
}

TEST(Mask2FormerBenchCli, RefusesBadSizesAndSamOptionsInOneLine) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--size", "800x1200"}, {"--size", "big"}, {"--only", "encoder"}}) {
    auto r = test::run_cli(bench_args(extra));
    EXPECT_NE(r.exit_code, 0) << extra[1];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto sam = test::run_cli({"bench", "--model", test::mask2former_tiny(), "--image", "x.png", "--size", "64x64"});
  EXPECT_NE(sam.exit_code, 0);
}
