// `segkit bench` on the tiny SAM 3 (tests/data/sam3/model, the toy tokenizer beside it):
// one JSON object with load, image encoding, the phrase measurements, multiply-adds and memory
// (no timing assertions), or the encoding alone with --only encoder; one-line errors for options
// SAM 3 does not take. And the hidden `segkit dev-random-sam3` writing a folder that bench runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

using namespace segkit;

namespace {

std::vector<std::string> bench_args(const std::string& model, std::vector<std::string> extra) {
  std::vector<std::string> args = {"bench", "--model", model, "--image", test::data_path("mask2former/inputs/img0.png"),
                                   "--repeat", "1", "--threads", "1", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void expect_bench_json(const nlohmann::json& j) {
  EXPECT_EQ(j["family"], "sam3");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["repeat"], 1);
  EXPECT_EQ(j["image_size"], nlohmann::json::array({512, 341}));
  EXPECT_EQ(j["input_size"], 168);
  EXPECT_GT(j["parameters"].get<int64_t>(), 0);
  for (const char* key : {"load_ms", "peak_rss_mb", "weights_mb"}) EXPECT_TRUE(j[key].is_number()) << key;
  for (const char* key : {"preprocess", "image_encoding"}) {
    EXPECT_TRUE(j[key]["ms"].is_number()) << key;
    EXPECT_TRUE(j[key]["cpu_ms"].is_number()) << key;
  }
  for (const auto& [key, phrases] : {std::pair<const char*, int>{"phrase", 1}, {"phrases_batch", 16}, {"phrases_sequential", 16}}) {
    const nlohmann::json& p = j[key];
    EXPECT_EQ(p["phrases"], phrases) << key;
    for (const char* part : {"text", "detect", "postprocess", "total"}) EXPECT_TRUE(p[part]["ms"].is_number()) << key << part;
    EXPECT_TRUE(p["instances"].is_number_integer()) << key;
    EXPECT_TRUE(p.contains("peak_rss_mb")) << key;
  }
  EXPECT_GT(j["gmacs"]["vision"]["total"].get<double>(), 0.0);
  EXPECT_GT(j["gmacs"]["phrase"]["detr_encoder"].get<double>(), 0.0);
  EXPECT_NEAR(j["gflop"]["image_encoding"].get<double>(), 2 * j["gmacs"]["vision"]["total"].get<double>(), 1e-9);
  EXPECT_NEAR(j["gflop"]["phrase"].get<double>(), 2 * j["gmacs"]["phrase"]["total"].get<double>(), 1e-9);
  EXPECT_GT(j["gflop_per_s"]["image_encoding"].get<double>(), 0.0);
  EXPECT_FALSE(j["machine"]["cpu"].get<std::string>().empty());
}

TEST(Sam3BenchCli, PrintsPartsMacsAndMemory) {
  auto r = test::run_cli(bench_args(test::data_path("sam3/model"), {"--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  expect_bench_json(j);
  EXPECT_EQ(j["precision"], "fp32");
  EXPECT_EQ(j["architecture"], "sam3 vit 4x64 168px, text 2x64, detr 2+2x32, 20 queries");
  EXPECT_EQ(j["parameters"], 535310);  // every float in the tiny model.safetensors

  auto half = test::run_cli(bench_args(test::data_path("sam3/model"), {"--json", "--precision", "bf16"}));
  ASSERT_EQ(half.exit_code, 0) << half.err;
  EXPECT_EQ(nlohmann::json::parse(half.out)["precision"], "bf16");

  auto text = test::run_cli(bench_args(test::data_path("sam3/model"), {}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("image encoding"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("16 phrases, batch"), std::string::npos) << text.out;
}

TEST(Sam3BenchCli, OnlyEncoderStopsAfterTheImageEncoding) {
  // With the default thread count, as users run it.
  std::vector<std::string> args = bench_args(test::data_path("sam3/model"), {"--json", "--only", "encoder"});
  const auto threads = std::find(args.begin(), args.end(), "--threads");
  args.erase(threads, threads + 2);
  auto r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_TRUE(j["image_encoding"]["ms"].is_number());
  EXPECT_GT(j["gflop_per_s"]["image_encoding"].get<double>(), 0.0);
  for (const char* key : {"phrase", "phrases_batch", "phrases_sequential"}) EXPECT_TRUE(j[key].is_null()) << key;
  EXPECT_TRUE(j["gflop_per_s"]["phrase"].is_null());

  auto text = test::run_cli(bench_args(test::data_path("sam3/model"), {"--only", "encoder"}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("image encoding"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("phrase"), std::string::npos) << text.out;
}

TEST(Sam3BenchCli, RefusesOtherFamiliesOptionsInOneLine) {
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--size", "64x64"}, {"--only", "decoder"}}) {
    auto r = test::run_cli(bench_args(test::data_path("sam3/model"), extra));
    EXPECT_NE(r.exit_code, 0) << extra[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(extra[0]), std::string::npos) << r.err;
  }
}

TEST(Sam3BenchCli, DevRandomSam3WritesAFolderBenchRuns) {
  test::TempDir dir;
  const std::string out = dir.file("random");
  auto w = test::run_cli({"dev-random-sam3", "--config", test::data_path("sam3/model/config.json"), "-o", out, "--seed", "5"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  for (const char* f : {"config.json", "model.safetensors", "processor_config.json", "vocab.json", "merges.txt"})
    EXPECT_TRUE(std::filesystem::is_regular_file(out + "/" + f)) << f;
  auto r = test::run_cli(bench_args(out, {"--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_bench_json(nlohmann::json::parse(r.out));

  // Hidden from the help; a bad config is a one-line error.
  auto help = test::run_cli({"--help"});
  EXPECT_EQ(help.out.find("dev-random-sam3"), std::string::npos);
  for (const char* config : {"sam3/model/tokenizer.json", "mask2former/model/config.json"}) {
    auto bad = test::run_cli({"dev-random-sam3", "--config", test::data_path(config), "-o", dir.file("bad")});
    EXPECT_NE(bad.exit_code, 0) << config;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad"))) << config;
  }
}

}  // namespace
