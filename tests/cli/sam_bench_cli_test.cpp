// `segkit bench` end to end on the tiny model: one JSON object with every field the harness
// promises (issue 8), and one-line errors for bad options.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sam_fixtures.h"
#include "segkit/sam.h"

using namespace segkit;
using test::run_cli;

TEST(SamBenchCli, PrintsOneJsonObjectWithTimesMemoryAndMachine) {
  test::TempDir dir;
  auto f = test::sam_case_file("dog");
  save_png(dir.file("dog.png"), test::sam_case_image(*f));
  auto r = run_cli({"bench", "--model", test::sam_tiny_hf(), "--image", dir.file("dog.png"), "--repeat", "1", "--threads", "1",
                    "--json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"load_ms", "encoder_ms", "decoder_ms", "decoder_batch64_ms", "peak_rss_mb"}) {
    ASSERT_TRUE(j[key].is_number()) << key;
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  }
  EXPECT_TRUE(j.contains("generate_ms"));
  EXPECT_EQ(j["precision"], "fp32");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["image_size"], nlohmann::json::array({f->get("image").shape[1], f->get("image").shape[0]}));
  EXPECT_FALSE(j["machine"]["cpu"].get<std::string>().empty());
  EXPECT_TRUE(j["machine"]["simd"].is_array());

  auto bf16 = run_cli({"bench", "--model", test::sam_tiny_hf(), "--image", dir.file("dog.png"), "--repeat", "1", "--threads",
                       "1", "--precision", "bf16", "--only", "encoder", "--json", "--quiet"});
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  nlohmann::json jb = nlohmann::json::parse(bf16.out);
  EXPECT_EQ(jb["precision"], "bf16");
  EXPECT_TRUE(jb["encoder_ms"].is_number());
  EXPECT_TRUE(jb["decoder_ms"].is_null());

  auto bad = run_cli({"bench", "--model", test::sam_tiny_hf(), "--image", dir.file("dog.png"), "--precision", "fp8"});
  EXPECT_NE(bad.exit_code, 0);
  auto missing = run_cli({"bench", "--model", test::sam_tiny_hf(), "--image", dir.file("none.png"), "--quiet"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}
