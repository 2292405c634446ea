// End-to-end: `segkit embed` and `segkit predict` as a user runs them, good input and bad.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/rle.h"
#include "segkit/sam.h"

using namespace segkit;
using test::run_cli;

namespace {

class SamCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = test::sam_case_file("truck_small");
    save_png(image(), test::sam_case_image(*f));
  }
  std::string image() const { return dir.file("truck.png"); }
  test::TempDir dir;
};

std::vector<uint8_t> masks_of(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  const TensorView& v = f->get("masks");
  return std::vector<uint8_t>(v.data, v.data + v.nbytes);
}

void expect_error(const test::CliResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "error should be one line: " << r.err;
}

}  // namespace

TEST_F(SamCli, EmbeddingThenPromptEqualsPromptingTheImage) {
  auto r = run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", image(), "-o", dir.file("emb.safetensors")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto emb = SafetensorsFile::open(dir.file("emb.safetensors"));
  EXPECT_EQ(emb->get("image_embeddings").shape, (std::vector<int64_t>{32, 16, 16}));
  EXPECT_EQ(emb->metadata().at("original_size"), "200,300");

  r = run_cli({"predict", "-m", test::sam_tiny_pth(), "-e", dir.file("emb.safetensors"), "-p", "134.55,109.45", "-o",
               dir.file("a.safetensors")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "--point", "134.55,109.45,1", "-o", dir.file("b.safetensors"),
               "--logits"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(masks_of(dir.file("a.safetensors")), masks_of(dir.file("b.safetensors")));
  EXPECT_TRUE(SafetensorsFile::open(dir.file("b.safetensors"))->contains("mask_logits"));

  // Same prompt as the fixture's point1 case: the upstream masks come back.
  auto golden = test::sam_case_file("truck_small");
  const TensorView& want = golden->get("point1.masks");
  std::vector<uint8_t> got = masks_of(dir.file("b.safetensors"));
  ASSERT_EQ(got.size(), want.nbytes);
  size_t same = 0;
  for (size_t i = 0; i < got.size(); ++i) same += got[i] == want.data[i];
  EXPECT_GE(same, got.size() * 999 / 1000);
}

TEST_F(SamCli, PrecisionIsTheUsersChoice) {
  // The same prompt in fp32 (the default), bf16 and auto: bf16 rounds the encoder's arithmetic,
  // so its masks may differ from fp32's, but on very few pixels.
  std::vector<std::vector<uint8_t>> masks;
  for (const char* precision : {"fp32", "bf16", "auto"}) {
    const std::string out = dir.file(std::string(precision) + ".safetensors");
    auto r = run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "-p", "134.55,109.45", "--precision", precision,
                      "-o", out, "-q"});
    ASSERT_EQ(r.exit_code, 0) << precision << ": " << r.err;
    masks.push_back(masks_of(out));
  }
  for (size_t m = 1; m < masks.size(); ++m) {
    ASSERT_EQ(masks[m].size(), masks[0].size());
    size_t same = 0;
    for (size_t i = 0; i < masks[0].size(); ++i) same += masks[m][i] == masks[0][i];
    EXPECT_GE(same, masks[0].size() * 99 / 100);
  }
  EXPECT_NE(run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", image(), "-o", dir.file("e.safetensors"), "--precision",
                     "fp16"})
                .exit_code,
            0);
  EXPECT_FALSE(std::filesystem::exists(dir.file("e.safetensors")));
}

TEST_F(SamCli, JsonFolderOverlayAndMaskRefinement) {
  auto r = run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "-p", "50,60", "-p", "200,100,0", "-o",
                    dir.file("first.safetensors"), "--overlay", dir.file("overlay.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(load_image(dir.file("overlay.png")).width, 300);

  r = run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "-b", "30,40,240,180", "-o", dir.file("box.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto records = nlohmann::json::parse(read_text_file(dir.file("box.json")));
  ASSERT_EQ(records.size(), 3u);
  for (const auto& rec : records) {
    Rle rle = rle_from_string(rec["segmentation"]["counts"], 200, 300);
    EXPECT_EQ(rec["area"].get<uint64_t>(), rle_area(rle));
    EXPECT_EQ(rec["segmentation"]["size"], nlohmann::json({200, 300}));
  }

  r = run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "-p", "50,60", "--mask-input", dir.file("first.safetensors"),
               "--single-mask", "-o", dir.file("refined")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("refined/mask_0.png")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("refined/mask_1.png")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("refined/masks.json")));
}

TEST_F(SamCli, BadInputGetsOneLineErrorsAndNoOutput) {
  const std::string m = test::sam_tiny_hf(), out = dir.file("out.json");
  expect_error(run_cli({"predict", "-m", m, "-i", dir.file("missing.png"), "-p", "1,1", "-o", out}), "missing.png");
  {
    std::ofstream(dir.file("empty.png"));
  }
  expect_error(run_cli({"predict", "-m", m, "-i", dir.file("empty.png"), "-p", "1,1", "-o", out}), "empty.png");
  {
    std::ofstream(dir.file("text.jpg")) << "not an image at all";
  }
  expect_error(run_cli({"predict", "-m", m, "-i", dir.file("text.jpg"), "-p", "1,1", "-o", out}), "text.jpg");
  expect_error(run_cli({"predict", "-m", m, "-i", image(), "-b", "200,40,30,180", "-o", out}), "X1 >= X0");
  expect_error(run_cli({"predict", "-m", m, "-i", image(), "-p", "150,250", "-o", out}), "swapped");
  expect_error(run_cli({"predict", "-m", m, "-i", image(), "-p", "abc", "-o", out}), "--point 'abc'");
  expect_error(run_cli({"predict", "-m", m, "-i", image(), "-p", "nan,3", "-o", out}), "--point");

  // A mask input of another size.
  std::vector<float> small(32 * 32, 0.f);
  write_safetensors(dir.file("small.safetensors"), {{"mask_input", DType::F32, {1, 32, 32}, small.data()}});
  expect_error(run_cli({"predict", "-m", m, "-i", image(), "-p", "5,5", "--mask-input", dir.file("small.safetensors"), "-o", out}),
               "small.safetensors");

  // Truncated and unknown checkpoints.
  std::vector<uint8_t> weights = read_file(m + "/model.safetensors");
  write_file_atomically(dir.file("truncated.safetensors"), weights.data(), weights.size() / 2);
  expect_error(run_cli({"embed", "-m", dir.file("truncated.safetensors"), "-i", image(), "-o", dir.file("e.safetensors")}),
               "truncated.safetensors");
  write_text_atomically(dir.file("model.pth"), "hello");
  expect_error(run_cli({"embed", "-m", dir.file("model.pth"), "-i", image(), "-o", dir.file("e.safetensors")}), "model.pth");
  expect_error(run_cli({"embed", "-m", dir.file("nowhere"), "-i", image(), "-o", dir.file("e.safetensors")}), "nowhere");

  // A checkpoint whose tensor has the wrong shape names the tensor and both shapes.
  {
    auto f = SafetensorsFile::open(m + "/model.safetensors");
    std::vector<TensorRef> refs;
    std::vector<float> wrong(5 * 32, 0.f);
    for (const auto& name : f->names()) {
      const TensorView& v = f->get(name);
      if (name == "mask_decoder.iou_token.weight") refs.push_back({name, DType::F32, {5, 32}, wrong.data()});
      else refs.push_back({name, v.dtype, v.shape, v.data});
    }
    write_safetensors(dir.file("misshaped.safetensors"), refs);
  }
  expect_error(run_cli({"predict", "-m", dir.file("misshaped.safetensors"), "-i", image(), "-p", "5,5", "-o", out}),
               "iou_token.weight' has shape [5, 32], expected [1, 32]");
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(dir.file("e.safetensors")));
}

TEST_F(SamCli, EmbeddingFromAnotherModelIsRefused) {
  // Another model: same architecture, one decoder weight changed.
  auto f = SafetensorsFile::open(test::sam_tiny_hf() + "/model.safetensors");
  std::vector<TensorRef> refs;
  std::vector<float> token = f->to_float("mask_decoder.iou_token.weight");
  token[0] += 1.f;
  for (const auto& name : f->names()) {
    const TensorView& v = f->get(name);
    refs.push_back({name, v.dtype, v.shape, name == "mask_decoder.iou_token.weight" ? static_cast<const void*>(token.data()) : v.data});
  }
  write_safetensors(dir.file("other.safetensors"), refs);
  ASSERT_EQ(run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", image(), "-o", dir.file("emb.safetensors"), "-q"}).exit_code, 0);
  expect_error(run_cli({"predict", "-m", dir.file("other.safetensors"), "-e", dir.file("emb.safetensors"), "-p", "5,5", "-o",
                        dir.file("x.json")}),
               "another model");
}

TEST_F(SamCli, UnusedCheckpointKeysWarnOnceAndStillWork) {
  auto f = SafetensorsFile::open(test::sam_tiny_hf() + "/model.safetensors");
  std::vector<TensorRef> refs;
  const float extra[3] = {1, 2, 3};
  for (const auto& name : f->names()) {
    const TensorView& v = f->get(name);
    refs.push_back({name, v.dtype, v.shape, v.data});
  }
  refs.push_back({"training.ema_decay", DType::F32, {3}, extra});
  refs.push_back({"training.step", DType::F32, {3}, extra});
  write_safetensors(dir.file("extra.safetensors"), refs);
  auto r = run_cli({"predict", "-m", dir.file("extra.safetensors"), "-i", image(), "-p", "5,5", "-o", dir.file("x.json"), "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("2 tensor(s) not used"), std::string::npos) << r.err;
}
