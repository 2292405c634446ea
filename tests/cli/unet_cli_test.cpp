// `segkit unet train|predict|eval|ensemble`: end to end on a tiny synthetic data set, and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "test_util.h"
#include "unet_synthetic.h"

namespace fs = std::filesystem;
using segkit::test::run_cli;
using segkit::test::TempDir;

namespace {

std::vector<std::string> tiny_train(const std::string& data, const std::string& out) {
  return {"unet", "train", "--data", data, "--out", out, "--epochs", "1", "--steps-per-epoch", "2",
          "--batch-size", "2", "--crop", "32", "--depth", "2", "--width", "4", "--threads", "1", "--quiet"};
}

void expect_one_line_error(const segkit::test::CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

TEST(UNetCli, TrainThenPredict) {
  TempDir dir;
  const std::string data = dir.file("data"), run = dir.file("run"), out = dir.file("pred");
  segkit::test::write_synthetic_dataset(data, 3, 40);
  auto args = tiny_train(data, run);
  args.push_back("--val-split");
  args.push_back("img2");
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"last.safetensors", "last.json", "best.safetensors", "best.json", "train_state.safetensors",
                        "log.jsonl", "curves.png"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;

  r = run_cli({"unet", "predict", "--model", run + "/best.safetensors", "--input", data + "/images", "--out", out,
               "--tile", "24", "--overlap", "8", "--probabilities", "--overlay", "--threads", "1", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const segkit::Image labels = segkit::load_image(out + "/img0.png");
  EXPECT_EQ(labels.width, 40);
  for (size_t i = 0; i < labels.rgb.size(); ++i) ASSERT_LE(labels.rgb[i], 1);
  EXPECT_TRUE(fs::exists(out + "/img1.overlay.png"));
  auto probs = segkit::SafetensorsFile::open(out + "/img2.probabilities.safetensors");
  EXPECT_EQ(probs->get("probabilities").shape, (std::vector<int64_t>{2, 40, 40}));

  r = run_cli({"unet", "eval", "--model", run + "/best.safetensors", "--data", data, "--json", "-", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto metrics = nlohmann::json::parse(r.out);
  EXPECT_TRUE(metrics.contains("mean_iou"));
  EXPECT_EQ(metrics.at("per_category_dice").size(), 2u);
}

TEST(UNetCli, PredictShardsAFolderResumesAndGoesPastADamagedImage) {
  TempDir dir;
  const std::string data = dir.file("data"), run = dir.file("run");
  segkit::test::write_synthetic_dataset(data, 3, 32);
  ASSERT_EQ(run_cli(tiny_train(data, run)).exit_code, 0);
  const std::string model = run + "/best.safetensors", images = data + "/images";
  auto predict = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"unet", "predict", "-m", model, "--input", images, "-o", out};  // default threads
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  auto r = predict(dir.file("whole"), {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 segmented"), std::string::npos) << r.err;
  r = predict(dir.file("whole"), {});  // a rerun finds everything done
  EXPECT_NE(r.err.find("0 segmented into " + dir.file("whole") + ", 3 already done"), std::string::npos) << r.err;

  for (const char* shard : {"0/2", "1/2"}) ASSERT_EQ(predict(dir.file("sharded"), {"--shard", shard, "-q"}).exit_code, 0);
  r = run_cli({"merge", dir.file("sharded")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 2 shards of unet predict: 3 images"), std::string::npos) << r.out;
  for (const char* stem : {"img0", "img1", "img2"})
    EXPECT_EQ(segkit::read_file(dir.file(std::string("sharded/") + stem + ".png")),
              segkit::read_file(dir.file(std::string("whole/") + stem + ".png")))
        << stem;

  { std::ofstream(images + "/img1b.png") << "not a png"; }
  r = predict(dir.file("damaged"), {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("warning: skipped " + images + "/img1b.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 4 images failed"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("damaged/img2.png")));
  expect_one_line_error(run_cli({"unet", "predict", "-m", model, "-i", images + "/img0.png", "-o", dir.file("x"),
                                 "--shard", "0/2"}),
                        "--shard: works with --input");
}

TEST(UNetCli, EnsembleOfTwoRunsPredictsAndEvaluates) {
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 2, 32);
  for (const char* seed : {"0", "1"}) {
    auto args = tiny_train(data, dir.file(std::string("run") + seed));
    args.insert(args.end(), {"--seed", seed});
    auto r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string ensemble = dir.file("ensemble.safetensors");
  auto r = run_cli({"unet", "ensemble", "--out", ensemble, dir.file("run0/best.safetensors"),
                    dir.file("run1/best.safetensors")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 networks"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("ensemble.json")));
  r = run_cli({"unet", "eval", "--model", ensemble, "--data", data, "--json", "-", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).contains("mean_iou"));
  r = run_cli({"unet", "predict", "--model", ensemble, "--image", data + "/images/img0.png", "--out", dir.file("pred"),
               "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("pred/img0.png")));

  // Members that give different classes cannot be averaged.
  TempDir three;
  segkit::test::write_synthetic_dataset(three.path(), 2, 32, 3);
  r = run_cli(tiny_train(three.path(), dir.file("run3")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_one_line_error(run_cli({"unet", "ensemble", "--out", dir.file("bad.safetensors"), dir.file("run0/best.safetensors"),
                                 dir.file("run3/best.safetensors")}),
                        "run3/best.safetensors");
  EXPECT_FALSE(fs::exists(dir.file("bad.safetensors")));
}

TEST(UNetCli, BadInputFailsWithOneLineNamingTheFile) {
  TempDir dir;
  const std::string data = dir.file("data"), run = dir.file("run");
  segkit::test::write_synthetic_dataset(data, 2, 32);
  fs::remove(data + "/masks/img1.png");
  expect_one_line_error(run_cli(tiny_train(data, run)), "images/img1.png");
  EXPECT_FALSE(fs::exists(run + "/last.safetensors"));

  // Mask values beyond --classes (a 3-class mask, 2 classes asked).
  TempDir three;
  segkit::test::write_synthetic_dataset(three.path(), 2, 32, 3);
  auto args = tiny_train(three.path(), run);
  args.insert(args.end(), {"--classes", "2"});
  expect_one_line_error(run_cli(args), "masks/img");
  EXPECT_FALSE(fs::exists(run + "/train_state.safetensors"));

  // Corrupt checkpoint.
  std::ofstream(dir.file("bad.safetensors")) << "garbage";
  expect_one_line_error(run_cli({"unet", "predict", "--model", dir.file("bad.safetensors"), "--image",
                                 data + "/images/img0.png", "--out", dir.file("o")}),
                        "bad.safetensors");
  // Resume without a run.
  expect_one_line_error(run_cli({"unet", "train", "--out", dir.file("nothing"), "--resume"}), "nothing to resume");
}
