// The assembled SAM 3 image model end to end on the tiny fixture (tests/data/sam3/README.md):
// from preprocessed pixels and raw phrase text to transformers 5.17's raw outputs and
// Sam3Processor's post-processed instances.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/sam3/model.h"
#include "sam3_mask_fixtures.h"
#include "sam3_vision_fixtures.h"
#include "segkit/error.h"
#include "test_util.h"

namespace segkit::test {
namespace {

constexpr double kTolerance = 1e-4;
constexpr double kBoxTolerancePx = 1e-3;
constexpr double kScoreTolerance = 1e-4;
constexpr double kMaskAgreement = 0.999;

// A model folder as released: the tiny model's files and the toy tokenizer side by side (the
// test data keeps them in two folders, so they are linked, not copied).
struct ModelFolder {
  TempDir dir;
  // `config`: written in place of the tiny model's config.json when given.
  explicit ModelFolder(const std::vector<std::string>& tokenizer_files, const nlohmann::json& config = {}) {
    namespace fs = std::filesystem;
    for (const char* f : {"processor_config.json", "model.safetensors"})
      fs::create_symlink(fs::absolute(sam3_tiny() + "/" + f), dir.file(f));
    if (config.is_null()) fs::create_symlink(fs::absolute(sam3_tiny() + "/config.json"), dir.file("config.json"));
    else std::ofstream(dir.file("config.json")) << config.dump();
    for (const std::string& f : tokenizer_files)
      fs::create_symlink(fs::absolute(data_path(f == "tokenizer.json" ? "sam3/model/" + f : "sam3/" + f)), dir.file(f));
  }
};

const sam3::Model& tiny_model() {
  static const ModelFolder folder({"tokenizer.json"});
  static const sam3::Model m = sam3::Model::load(folder.dir.path());
  return m;
}

// detr_cases.safetensors (sam3_detr_fixtures.h's config reader cannot share a file with the
// vision fixtures').
at::Tensor detr_case(const std::string& name, const std::string& key) {
  static const auto file = SafetensorsFile::open(data_path("sam3/detr_cases.safetensors"));
  return case_tensor(*file, name + "/" + key);
}

at::Tensor pixels_of(const std::string& name) { return case_tensor(*sam3_case(name), "in.pixel_values"); }

struct TextCase {
  std::string name, phrase;  // the phrase index.json records for the case
};
const std::vector<TextCase> kTextCases = {{"img1_text0", "truck"}, {"synth_rgba_text0", "truck"}};

// Row `row` of Sam3Processor's instances (pp.b<row>.inst.*) from `out`, whose batch is that row alone.
void expect_instances(const sam3::Model& m, const sam3::RawOutputs& out, const std::string& name, int row) {
  const std::string pp = "pp.b" + std::to_string(row) + ".inst.";
  const at::Tensor size = sam3_mask_case(name, "in.original_sizes")[row];
  const nlohmann::json thresholds = sam3_mask_thresholds(name);
  const auto results = m.postprocess(out, thresholds.at("score").get<double>(), thresholds.at("mask").get<double>(),
                                     {{size[0].item<int64_t>(), size[1].item<int64_t>()}});
  ASSERT_EQ(results.size(), 1u);
  const sam3::Instances& r = results[0];
  ASSERT_TRUE(at::equal(r.query, sam3_mask_case(name, pp + "keep_idx")));
  EXPECT_LE((r.scores - sam3_mask_case(name, pp + "scores")).abs().max().item<double>(), kScoreTolerance);
  EXPECT_LE((r.boxes - sam3_mask_case(name, pp + "boxes")).abs().max().item<double>(), kBoxTolerancePx);
  const at::Tensor expected = unpack_mask(sam3_mask_case(name, pp + "masks_packed"), sam3_mask_case(name, pp + "masks_shape"));
  ASSERT_EQ(r.masks.sizes(), expected.sizes());
  EXPECT_GE(r.masks.to(at::kByte).eq(expected).to(at::kDouble).mean().item<double>(), kMaskAgreement);
}

TEST(Sam3Model, TextPromptsMatchTransformersEndToEnd) {
  const sam3::Model& m = tiny_model();
  for (const TextCase& c : kTextCases) {
    SCOPED_TRACE(c.name);
    const sam3::RawOutputs out = m.detect(m.encode_image(pixels_of(c.name)), m.encode_text({c.phrase}));
    EXPECT_LE(relative_l2(out.pred_logits, sam3_mask_case(c.name, "out.pred_logits")), kTolerance);
    EXPECT_LE(relative_l2(out.pred_boxes, sam3_mask_case(c.name, "out.pred_boxes")), kTolerance);
    EXPECT_LE(relative_l2(out.presence_logits, sam3_mask_case(c.name, "out.presence_logits")), kTolerance);
    EXPECT_LE(relative_l2(out.pred_masks, sam3_mask_case(c.name, "out.pred_masks")), kTolerance);
    EXPECT_LE(relative_l2(out.semantic_seg, sam3_mask_case(c.name, "out.semantic_seg")), kTolerance);

    expect_instances(m, out, c.name, 0);
  }
}

TEST(Sam3Model, BoxPromptMatchesTransformersEndToEnd) {
  // box_batch_padded's second row: img1_text0's pixels, "a dog" and one exemplar box padded to
  // two slots. Rows are independent, so it runs alone (mask_cases keeps that row's masks only).
  const sam3::Model& m = tiny_model();
  const std::string name = "box_batch_padded";
  auto row1 = [&](const std::string& key) { return detr_case(name, key).narrow(0, 1, 1); };
  const sam3::RawOutputs out = m.detect(m.encode_image(pixels_of("img1_text0")), m.encode_text({"a dog"}),
                                        row1("in.input_boxes"), row1("in.input_boxes_labels"));
  EXPECT_LE(relative_l2(out.pred_logits, row1("out.pred_logits")), kTolerance);
  EXPECT_LE(relative_l2(out.pred_boxes, row1("out.pred_boxes")), kTolerance);
  EXPECT_LE(relative_l2(out.presence_logits, row1("out.presence_logits")), kTolerance);
  EXPECT_LE(relative_l2(out.pred_masks, sam3_mask_case(name, "out.pred_masks[1]")), kTolerance);
  expect_instances(m, out, name, 1);
}

TEST(Sam3Model, OneImageServesSeveralPhrases) {
  const sam3::Model& m = tiny_model();
  const std::string name = kTextCases[1].name;
  const sam3::RawOutputs out =
      m.detect(m.encode_image(pixels_of(name)), m.encode_text({kTextCases[1].phrase, kTextCases[1].phrase}));
  ASSERT_EQ(out.pred_masks.size(0), 2);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_LE(relative_l2(out.pred_logits[i], sam3_mask_case(name, "out.pred_logits")[0]), kTolerance);
    EXPECT_LE(relative_l2(out.pred_masks[i], sam3_mask_case(name, "out.pred_masks")[0]), kTolerance);
  }
}

TEST(Sam3Model, ReadsVocabAndMergesAndChecksTheVocabularySize) {
  const ModelFolder folder({"vocab.json", "merges.txt"});
  const sam3::Model m = sam3::Model::load(folder.dir.path());
  EXPECT_EQ(m.tokenizer().vocab_size(), 594);
  const sam3::TextFeatures t = m.encode_text({"truck"});
  EXPECT_EQ(t.tokens.sizes(), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_EQ(t.mask.sum().item<int64_t>(), 3);  // <|startoftext|> truck <|endoftext|>

  const ModelFolder no_tokenizer({});
  EXPECT_THROW(sam3::Model::load(no_tokenizer.dir.path()), Error);
  nlohmann::json config = read_json_file(sam3_tiny() + "/config.json", JsonLimits::config());
  config["text_config"]["vocab_size"] = 600;
  const ModelFolder wrong_vocab({"tokenizer.json"}, config);
  EXPECT_NE(error_of([&] { sam3::Model::load(wrong_vocab.dir.path()); }).find("594"), std::string::npos);
  const TempDir empty;
  EXPECT_NE(error_of([&] { sam3::Model::load(empty.path()); }).find("no config.json"), std::string::npos);
}

TEST(Sam3Model, LoadsTheVideoConfigLayout) {
  // facebook/sam3's config.json wraps the detector; these weights lack the prefix, which
  // read_weights strips where present.
  const nlohmann::json video = {{"model_type", "sam3_video"},
                                {"detector_config", read_json_file(sam3_tiny() + "/config.json", JsonLimits::config())}};
  const ModelFolder folder({"tokenizer.json"}, video);
  const sam3::Model m = sam3::Model::load(folder.dir.path());
  EXPECT_EQ(m.config().weight_prefix, "detector_model.");
  const std::string name = kTextCases[0].name;
  const sam3::RawOutputs out = m.detect(m.encode_image(pixels_of(name)), m.encode_text({kTextCases[0].phrase}));
  EXPECT_LE(relative_l2(out.pred_masks, sam3_mask_case(name, "out.pred_masks")), kTolerance);
}

}  // namespace
}  // namespace segkit::test
