// Folder runs split with --shard K/N and put back together with `segkit merge`: the merged
// files equal an unsharded run's, the launcher's variables pick the shard, and missing,
// overlapping, failed or left-out shards are refused in one line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mask2former_fixtures.h"
#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "test_util.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

// Four copies of the fixture image, each changed a little so that their results differ.
std::string input_folder(const test::TempDir& dir) {
  fs::create_directories(dir.file("in"));
  Image image = load_image(test::data_path("mask2former/inputs/img0.png"));
  for (int k = 0; k < 4; ++k) {
    for (size_t i = 0; i < image.rgb.size(); i += 97) image.rgb[i] = static_cast<uint8_t>(image.rgb[i] + 40 * k);
    save_png(dir.file("in/" + std::to_string(k) + ".png"), image);
  }
  return dir.file("in");
}

std::vector<std::string> segment(const std::string& in, const std::string& out, const std::string& task,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"segment", "-m", test::mask2former_tiny(), "--input", in, "--task", task, "-o", out, "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void expect_one_line(const test::CliResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

TEST(ShardsCli, MergedShardsEqualOneRun) {
  test::TempDir dir;
  const std::string in = input_folder(dir);
  for (const char* task : {"panoptic", "instance", "semantic"}) {
    SCOPED_TRACE(task);
    const std::string one = dir.file(std::string("one-") + task), split = dir.file(std::string("split-") + task);
    ASSERT_EQ(test::run_cli(segment(in, one, task)).exit_code, 0);
    for (const char* shard : {"2/3", "0/3", "1/3"}) {
      const auto r = test::run_cli(segment(in, split, task, {"--shard", shard}));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    const std::string file = std::string(task) == "panoptic" ? "panoptic.json"
                             : std::string(task) == "instance" ? "results.json"
                                                               : "labels.json";
    EXPECT_FALSE(fs::exists(split + "/" + file));  // not before the merge
    const auto r = test::run_cli({"merge", split, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("images"), 4);
    EXPECT_EQ(read_text_file(split + "/" + file), read_text_file(one + "/" + file));
    for (int k = 0; k < 4; ++k) {
      const std::string image = std::string(task) == "semantic" ? std::to_string(k) + ".png" : "";
      if (!image.empty()) EXPECT_EQ(read_text_file(split + "/" + image), read_text_file(one + "/" + image));
    }
  }
}

TEST(ShardsCli, TheLaunchersVariablesPickTheShard) {
  test::TempDir dir;
  const std::string in = input_folder(dir);
  const std::string out = dir.file("out");
  // torchrun's variables, then a Slurm job array numbered from 1.
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "2", 1);
  auto r = test::run_cli(segment(in, out, "instance", {"--shard", "env", "--json"}));
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("shard"), "1-of-2");
  EXPECT_TRUE(fs::exists(out + "/instances/1.json"));
  EXPECT_FALSE(fs::exists(out + "/instances/0.json"));
  setenv("SLURM_ARRAY_TASK_ID", "1", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  r = test::run_cli(segment(in, out, "instance", {"--shard", "env", "--json"}));
  for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"}) unsetenv(v);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("shard"), "0-of-2");
  EXPECT_EQ(test::run_cli({"merge", out, "-q"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(out + "/results.json"));

  expect_one_line(test::run_cli(segment(in, out, "instance", {"--shard", "env"})),
                  "--shard 'env': none of RANK/WORLD_SIZE");
  expect_one_line(test::run_cli(segment(in, out, "instance", {"--shard", "2/2"})),
                  "--shard '2/2': shard 2 of 2 (shards are numbered from 0 to 1)");
  expect_one_line(test::run_cli(segment(in, out, "instance", {"--shard", "half"})), "--shard 'half': expected K/N");
  expect_one_line(test::run_cli({"segment", "-m", test::mask2former_tiny(), "-i", in + "/0.png", "-o", out, "--shard", "0/2"}),
                  "--shard: works with --input (a folder)");
}

TEST(ShardsCli, MergeRefusesIncompleteOrMixedShards) {
  test::TempDir dir;
  const std::string in = input_folder(dir);
  const std::string out = dir.file("out");
  ASSERT_EQ(test::run_cli(segment(in, out, "instance", {"--shard", "0/3"})).exit_code, 0);
  expect_one_line(test::run_cli({"merge", out}), "shard(s) 1-of-3, 2-of-3 missing");
  ASSERT_EQ(test::run_cli(segment(in, out, "instance", {"--shard", "1/2"})).exit_code, 0);
  expect_one_line(test::run_cli({"merge", out}), "from another run");
  fs::remove(out + "/shards/1-of-2.json");
  ASSERT_EQ(test::run_cli(segment(in, out, "panoptic", {"--shard", "1/3"})).exit_code, 0);
  expect_one_line(test::run_cli({"merge", out}), "another model or task");
  fs::remove(out + "/shards/1-of-3.json");
  ASSERT_EQ(test::run_cli(segment(in, out, "instance", {"--shard", "1/3"})).exit_code, 0);
  // A broken image fails in its shard; the merge names that shard.
  { std::ofstream(in + "/1a.jpg") << "not a jpeg"; }  // third in the listing: shard 2 of 3
  const auto r = test::run_cli(segment(in, out, "instance", {"--shard", "2/3"}));
  EXPECT_EQ(r.exit_code, 1);
  expect_one_line(test::run_cli({"merge", out}), "2-of-3.json: 1 image(s) failed in this shard");
  fs::remove(in + "/1a.jpg");
  ASSERT_EQ(test::run_cli(segment(in, out, "instance", {"--shard", "2/3"})).exit_code, 0);
  EXPECT_EQ(test::run_cli({"merge", out, "-q"}).exit_code, 0);
  // An image added since the shards ran is in none of them.
  fs::copy_file(in + "/0.png", in + "/5.png");
  expect_one_line(test::run_cli({"merge", out}), "1 image(s) in no shard, e.g. 5.png");
  expect_one_line(test::run_cli({"merge", dir.file("nothing")}), "no shard manifests");
}

TEST(ShardsCli, GenerateShardsAFolder) {
  test::TempDir dir;
  fs::create_directories(dir.file("in"));
  save_png(dir.file("in/a.png"), test::sam_case_image(*test::sam_case_file("truck_small")));
  save_png(dir.file("in/b.png"), test::sam_case_image(*test::sam_case_file("groceries_tall")));
  for (const char* shard : {"0/2", "1/2"}) {
    const auto r = test::run_cli({"generate", "--model", test::sam_tiny_hf(), "--points-per-side", "4", "--input",
                                  dir.file("in"), "--out", dir.file("out"), "--output-mode", "coco_rle", "--shard", shard});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string("1 images in shard ") + shard[0] + "-of-2"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(fs::exists(dir.file("out/a.json")));
  EXPECT_TRUE(fs::exists(dir.file("out/b.json")));
  const auto r = test::run_cli({"merge", dir.file("out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 2 shards of generate: 2 images"), std::string::npos) << r.out;
}

}  // namespace
