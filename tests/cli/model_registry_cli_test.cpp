// Commands refuse a model of another family in one line naming it and the command to use, and
// `segkit info MODEL` says what a model is.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "segkit/unet.h"
#include "test_util.h"

using segkit::test::CliResult;
using segkit::test::run_cli;
using segkit::test::TempDir;

namespace {

class ModelRegistryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    segkit::UNetConfig c;
    c.depth = 2;
    c.width = 4;
    segkit::UNetModel::create(c, 1)->save(unet());
    segkit::Image im;
    im.width = im.height = 16;
    im.rgb.assign(16 * 16 * 3, 128);
    segkit::save_png(image(), im);
  }
  std::string unet() const { return dir.file("unet.safetensors"); }
  std::string image() const { return dir.file("img.png"); }
  TempDir dir;
};

void expect_one_line(const CliResult& r, const std::string& line) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "segkit: error: " + line + "\n");
}

}  // namespace

TEST_F(ModelRegistryCli, SamCommandsRefuseAUNet) {
  const std::string refusal = unet() + ": this is a U-Net model, not a SAM model; use segkit unet predict";
  const std::vector<std::vector<std::string>> commands = {
      {"predict", "-m", unet(), "-i", image(), "-p", "1,1", "-o", dir.file("p.json")},
      {"embed", "-m", unet(), "-i", image(), "-o", dir.file("e.safetensors")},
      {"generate", "-m", unet(), "-i", image(), "-o", dir.file("g")},
      {"bench", "-m", unet(), "-i", image(), "--quiet"},
  };
  for (const auto& args : commands) {
    SCOPED_TRACE(args.front());
    expect_one_line(run_cli(args), refusal);
  }
}

// --device in every command that loads SAM: this build runs on the CPU, so another device is
// refused in one line before anything is read, and nothing is written.
TEST_F(ModelRegistryCli, SamCommandsTakeADevice) {
  const std::string sam = segkit::test::sam_tiny_hf();
  const std::vector<std::vector<std::string>> commands = {
      {"predict", "-m", sam, "-i", image(), "-p", "1,1", "-o", dir.file("p.json")},
      {"embed", "-m", sam, "-i", image(), "-o", dir.file("e.safetensors")},
      {"generate", "-m", sam, "-i", image(), "-o", dir.file("g")},
      {"bench", "-m", sam, "-i", image(), "--quiet", "--only", "decoder", "--repeat", "1"},
      {"serve", "-m", sam, "--port", "0"},
  };
  for (auto args : commands) {
    SCOPED_TRACE(args.front());
    args.push_back("--device");
    args.push_back("cuda:1");
    if (!at::hasCUDA())  // where CUDA runs, the GPU tests (scripts/gpu-check.sh) cover --device
      expect_one_line(run_cli(args), "device 'cuda:1': no CUDA here: this segkit's LibTorch is CPU-only or no NVIDIA "
                                     "GPU is visible (docs/cuda.md)");
    args.back() = "tpu";
    expect_one_line(run_cli(args), "device 'tpu': expected cpu, cuda or cuda:N");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("p.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("e.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("g")));
  EXPECT_EQ(run_cli({"predict", "-m", sam, "-i", image(), "-p", "1,1", "-o", dir.file("p.json"), "--device", "cpu"}).exit_code, 0);
}

TEST_F(ModelRegistryCli, UNetCommandsRefuseASam) {
  const std::string sam = segkit::test::sam_tiny_hf();
  const std::string refusal = sam + ": this is a SAM model, not a U-Net model; use segkit predict";
  expect_one_line(run_cli({"unet", "predict", "--model", sam, "--image", image(), "--out", dir.file("o")}), refusal);
  expect_one_line(run_cli({"unet", "eval", "--model", sam, "--data", dir.path()}), refusal);
  expect_one_line(run_cli({"unet", "ensemble", "-o", dir.file("e.safetensors"), unet(), sam}), refusal);
}

TEST_F(ModelRegistryCli, FamiliesSegkitCannotRunOrDoesNotKnow) {
  TempDir m2f;
  segkit::write_text_atomically(m2f.file("config.json"), R"({"model_type": "mask2former"})");
  const float w[2] = {1, 2};
  segkit::write_safetensors(m2f.file("model.safetensors"), {{"backbone.weight", segkit::DType::F32, {2}, w}});
  expect_one_line(run_cli({"predict", "-m", m2f.path(), "-i", image(), "-p", "1,1", "-o", dir.file("p.json")}),
                  m2f.path() + ": this is a Mask2Former model, not a SAM model; use segkit segment");
  segkit::write_text_atomically(m2f.file("config.json"), R"({"model_type": "sam3"})");
  expect_one_line(run_cli({"predict", "-m", m2f.path(), "-i", image(), "-p", "1,1", "-o", dir.file("p.json")}),
                  "--point is a SAM prompt; a SAM 3 model takes --text and --box");
  expect_one_line(run_cli({"segment", "-m", segkit::test::sam_tiny_hf(), "-i", image(), "-o", dir.file("s")}),
                  segkit::test::sam_tiny_hf() + ": this is a SAM model, not a Mask2Former model; use segkit predict");
  segkit::write_text_atomically(m2f.file("config.json"), R"({"model_type": "foo"})");
  expect_one_line(run_cli({"unet", "predict", "-m", m2f.path(), "-i", image(), "-o", dir.file("o")}),
                  m2f.path() + ": config.json has model_type \"foo\", not a model family segkit knows (sam, unet, mask2former, sam3)");
}

TEST_F(ModelRegistryCli, InfoModelJson) {
  CliResult r = run_cli({"info", segkit::test::sam_tiny_hf(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("family"), "sam");
  EXPECT_EQ(j.at("runnable"), true);
  EXPECT_EQ(j.at("architecture"), "sam ViT width 48, 3 blocks, 256 px input");
  EXPECT_GT(j.at("parameters").get<int64_t>(), 0);
  EXPECT_EQ(j.at("precisions"), nlohmann::json({"fp32", "bf16"}));
  EXPECT_EQ(j.at("found_as"), "folder");
  EXPECT_EQ(j.at("weights"), segkit::test::sam_tiny_hf() + "/model.safetensors");
  EXPECT_EQ(j.at("config"), segkit::test::sam_tiny_hf() + "/config.json");
  EXPECT_EQ(j.at("identified_by"), "config.json model_type \"sam\"");
  EXPECT_EQ(j.at("commands").at(0), "predict");

  r = run_cli({"info", unet(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("family"), "unet");
  EXPECT_EQ(j.at("parameters").get<int64_t>(), segkit::UNetModel::load(unet())->parameter_count());
  EXPECT_EQ(j.at("found_as"), "file");
  EXPECT_EQ(j.at("config"), nullptr);
  EXPECT_EQ(j.at("identified_by"), "segkit.unet.config metadata");
}

TEST_F(ModelRegistryCli, InfoModelText) {
  CliResult r = run_cli({"info", unet()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family        unet (U-Net)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("architecture  unet depth 2 width 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("commands      segkit unet predict, segkit unet eval"), std::string::npos) << r.out;
  // Without a model: the version and threads, as before.
  r = run_cli({"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("segkit ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("threads "), std::string::npos) << r.out;
  // A model that is not there: one line.
  r = run_cli({"info", dir.file("nothing.safetensors")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
