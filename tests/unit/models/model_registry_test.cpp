// inspect_model / load_model / require_model_family: the family of the tiny SAM (both layouts),
// of a U-Net checkpoint, and clear errors for families segkit cannot run or does not know.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <filesystem>

#include "mask2former_fixtures.h"
#include "sam3_vision_fixtures.h"
#include "sam_fixtures.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/model.h"
#include "segkit/safetensors.h"
#include "segkit/sam.h"
#include "segkit/unet.h"
#include "test_util.h"

using segkit::test::error_of;
using segkit::test::TempDir;

namespace {

std::string tiny_unet(const TempDir& dir, const std::string& name = "unet.safetensors") {
  segkit::UNetConfig c;
  c.depth = 2;
  c.width = 4;
  const std::string path = dir.file(name);
  segkit::UNetModel::create(c, 1)->save(path);
  return path;
}

// A folder as transformers writes it: config.json with `model_type`, and one small tensor.
std::string hf_folder(const TempDir& dir, const std::string& config_json) {
  segkit::write_text_atomically(dir.file("config.json"), config_json);
  const float w[4] = {1, 2, 3, 4};
  segkit::write_safetensors(dir.file("model.safetensors"), {{"backbone.weight", segkit::DType::F32, {2, 2}, w}});
  return dir.path();
}

void expect_has(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "'" << needle << "' not in: " << text;
}

}  // namespace

TEST(ModelRegistry, TinySamInBothLayoutsIsSam) {
  const segkit::ModelInfo hf = segkit::inspect_model(segkit::test::sam_tiny_hf());
  EXPECT_EQ(hf.family, "sam");
  EXPECT_TRUE(hf.runnable);
  EXPECT_EQ(hf.found_as, "folder");
  EXPECT_EQ(hf.identified_by, "config.json model_type \"sam\"");
  expect_has(hf.config, "config.json");
  expect_has(hf.architecture, "sam ViT width 48, 3 blocks, 256 px input");
  EXPECT_EQ(hf.precisions, (std::vector<std::string>{"fp32", "bf16"}));
  EXPECT_EQ(hf.commands.front(), "predict");

  const segkit::ModelInfo pth = segkit::inspect_model(segkit::test::sam_tiny_pth());
  EXPECT_EQ(pth.family, "sam");
  EXPECT_EQ(pth.found_as, "file");
  EXPECT_EQ(pth.config, "");
  expect_has(pth.identified_by, "image_encoder.*");
  EXPECT_EQ(pth.architecture, hf.architecture);
  // The same weights: buffers (the tied positional features HF stores twice) do not count.
  EXPECT_GT(hf.parameter_count, 0);
  EXPECT_EQ(pth.parameter_count, hf.parameter_count);
}

TEST(ModelRegistry, LoadModelGivesTheFamilysModel) {
  auto model = segkit::load_model(segkit::test::sam_tiny_hf());
  EXPECT_EQ(model->family(), "sam");
  auto sam = std::dynamic_pointer_cast<const segkit::SamModel>(model);
  ASSERT_TRUE(sam);
  const segkit::ModelInfo info = sam->info();
  EXPECT_EQ(info.parameter_count, segkit::inspect_model(segkit::test::sam_tiny_hf()).parameter_count);
  EXPECT_EQ(info.architecture, "sam ViT width 48, 3 blocks, 256 px input");
  EXPECT_EQ(info.found_as, "folder");

  TempDir dir;
  const std::string path = tiny_unet(dir);
  auto unet = std::dynamic_pointer_cast<const segkit::UNetModel>(segkit::load_model(path));
  ASSERT_TRUE(unet);
  EXPECT_EQ(unet->info().family, "unet");
  EXPECT_EQ(unet->info().weights, path);
}

TEST(ModelRegistry, UNetCheckpointIsUNet) {
  TempDir dir;
  const std::string path = tiny_unet(dir);
  const segkit::ModelInfo info = segkit::inspect_model(path);
  EXPECT_EQ(info.family, "unet");
  EXPECT_EQ(info.family_title, "U-Net");
  EXPECT_EQ(info.identified_by, "segkit.unet.config metadata");
  expect_has(info.architecture, "unet depth 2 width 4 (1 input channel, 2 classes");
  EXPECT_EQ(info.precisions, (std::vector<std::string>{"fp32"}));
  EXPECT_EQ(info.commands.front(), "unet predict");
  // Batch-norm running statistics are not parameters.
  EXPECT_EQ(info.parameter_count, segkit::UNetModel::load(path)->parameter_count());

  // An ensemble, and a checkpoint whose config is only in the side .json.
  auto one = segkit::UNetModel::load(path);
  const std::string ens = dir.file("ens.safetensors");
  segkit::UNetModel::ensemble({one, one})->save(ens);
  const segkit::ModelInfo e = segkit::inspect_model(ens);
  EXPECT_EQ(e.family, "unet");
  expect_has(e.architecture, "ensemble of 2 networks");
  EXPECT_EQ(e.parameter_count, 2 * info.parameter_count);

  auto file = segkit::SafetensorsFile::open(path);
  std::vector<segkit::TensorRef> refs;
  for (const auto& name : file->names()) {
    const segkit::TensorView& v = file->get(name);
    refs.push_back({name, v.dtype, v.shape, v.data});
  }
  const std::string bare = dir.file("bare.safetensors");
  segkit::write_safetensors(bare, refs);
  std::filesystem::copy_file(dir.file("unet.json"), dir.file("bare.json"));
  const segkit::ModelInfo side = segkit::inspect_model(bare);
  EXPECT_EQ(side.family, "unet");
  EXPECT_EQ(side.identified_by, "side file bare.json");
}

TEST(ModelRegistry, Sam3FolderIsDescribedFromItsConfig) {
  TempDir dir;
  // facebook/sam3's layout: the detector inside a sam3_video config, its tensors under a prefix.
  const std::string folder = hf_folder(dir, R"({"model_type": "sam3_video", "architectures": ["Sam3VideoModel"], "detector_config": {}})");
  const segkit::ModelInfo info = segkit::inspect_model(folder);
  EXPECT_EQ(info.family, "sam3");
  EXPECT_TRUE(info.runnable);
  EXPECT_EQ(info.architecture, "sam3 vit 1024×32 at 1008 px, text 1024×24, 200 queries");
  EXPECT_EQ(info.parameter_count, 0);  // none of its tensors is the detector's
  expect_has(error_of([&] { segkit::load_model(folder); }), folder);
  expect_has(error_of([&] { segkit::require_model_family(folder, "sam"); }),
             folder + ": this is a SAM 3 model, not a SAM model; use segkit predict --text");
}

TEST(ModelRegistry, UnknownModelTypeListsTheKnownFamilies) {
  TempDir dir;
  const std::string folder = hf_folder(dir, R"({"model_type": "foo"})");
  const std::string err = error_of([&] { segkit::inspect_model(folder); });
  EXPECT_EQ(err, folder + ": config.json has model_type \"foo\", not a model family segkit knows (sam, unet, mask2former, sam3)");
  expect_has(error_of([&] { segkit::load_model(folder); }), "model_type \"foo\"");

  segkit::write_text_atomically(dir.file("config.json"), R"({"model_type": 7})");
  expect_has(error_of([&] { segkit::inspect_model(folder); }), "model_type is not a string");
}

TEST(ModelRegistry, UnrecognisableWeightsWithoutConfigAreAClearError) {
  TempDir dir;
  const float w[2] = {1, 2};
  const std::string path = dir.file("mystery.safetensors");
  segkit::write_safetensors(path, {{"encoder.weight", segkit::DType::F32, {2}, w}});
  expect_has(error_of([&] { segkit::inspect_model(path); }),
             path + ": no config.json, and the tensors of " + path + " are not those of a model family segkit knows (sam, unet, mask2former, sam3)");
  // A folder config.json without model_type falls back to the weights, with the same verdict.
  TempDir folder;
  segkit::write_text_atomically(folder.file("config.json"), "{}");
  segkit::write_safetensors(folder.file("model.safetensors"), {{"encoder.weight", segkit::DType::F32, {2}, w}});
  expect_has(error_of([&] { segkit::inspect_model(folder.path()); }), "config.json has no model_type");
}

TEST(ModelRegistry, WrongFamilyNamesTheFamilyAndItsCommand) {
  TempDir dir;
  const std::string unet = tiny_unet(dir);
  EXPECT_EQ(error_of([&] { segkit::require_model_family(unet, "sam"); }),
            unet + ": this is a U-Net model, not a SAM model; use segkit unet predict");
  EXPECT_EQ(error_of([&] { segkit::require_model_family(segkit::test::sam_tiny_pth(), "unet"); }),
            segkit::test::sam_tiny_pth() + ": this is a SAM model, not a U-Net model; use segkit predict");
  EXPECT_EQ(segkit::require_model_family(unet, "unet").family, "unet");
}

TEST(ModelRegistry, LoadOptionsAreChecked) {
  TempDir dir;
  const std::string unet = tiny_unet(dir);
  segkit::LoadOptions options;
  options.device = segkit::parse_device("cuda");
  const std::string no_cuda =
      "device 'cuda:0': no CUDA here: this segkit's LibTorch is CPU-only or no NVIDIA GPU is visible (docs/cuda.md)";
  if (at::hasCUDA()) {
    EXPECT_EQ(error_of([&] { segkit::load_model(unet, options); }),
              "device 'cuda:0': U-Net models run on the CPU only in this segkit (device \"cpu\")");
  } else {
    EXPECT_EQ(error_of([&] { segkit::load_model(unet, options); }), no_cuda);
    EXPECT_EQ(error_of([&] { segkit::SamModel::load(segkit::test::sam_tiny_hf(), options); }), no_cuda);
    // Every family takes a device; only this build's lack of CUDA refuses it.
    EXPECT_EQ(error_of([&] { segkit::load_model(segkit::test::mask2former_tiny(), options); }), no_cuda);
    EXPECT_EQ(error_of([&] { segkit::load_model(segkit::test::sam3_tiny(), options); }), no_cuda);
  }
  options = {};
  options.precision = segkit::Precision::Bf16;
  expect_has(error_of([&] { segkit::load_model(unet, options); }), "precision 'bf16': a U-Net model runs in fp32");
  options.precision = segkit::Precision::Auto;
  EXPECT_EQ(segkit::load_model(unet, options)->family(), "unet");
  EXPECT_EQ(error_of([] { segkit::parse_precision("fp16"); }), "precision: expected fp32, bf16 or auto, got 'fp16'");
}

TEST(ModelRegistry, DevicesAreParsed) {
  EXPECT_EQ(segkit::device_name(segkit::parse_device("cpu")), "cpu");
  EXPECT_EQ(segkit::device_name(segkit::parse_device("cuda")), "cuda:0");
  EXPECT_EQ(segkit::device_name(segkit::parse_device("cuda:3")), "cuda:3");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:123456", "CPU", ""})
    EXPECT_EQ(error_of([&] { segkit::parse_device(bad); }),
              "device '" + std::string(bad) + "': expected cpu, cuda or cuda:N") << bad;
}
