// Random-weight SAM 3 folders (`segkit dev-random-sam3`): the tensors are transformers'
// Sam3Model state dict (checked against the tiny fixture's file), every one of them is read by
// the loaders, the folder loads with sam3::Model::load and runs to finite outputs, the synthetic
// CLIP vocabulary has the configured size with the specials at CLIP's ids, and a seed gives
// the same bytes. With weights whose scores are not tuned to the fixtures' inputs, it also
// checks that a phrase alone gives its row of a phrase batch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "models/sam3/model.h"
#include "models/sam3/random_checkpoint.h"
#include "sam3_vision_fixtures.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "text/clip_tokenizer.h"

namespace segkit::test {
namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string tiny_config_path() { return sam3_tiny() + "/config.json"; }

bool all_finite(const at::Tensor& t) { return !t.defined() || at::isfinite(t).all().item<bool>(); }

TEST(Sam3RandomCheckpoint, ShapesAreTheTinyFixturesStateDict) {
  const auto file = SafetensorsFile::open(sam3_tiny() + "/model.safetensors");
  sam3::Shapes expected;
  for (const std::string& name : file->names()) expected[name] = file->get(name).shape;
  const sam3::Shapes shapes = sam3::model_shapes(sam3_tiny_config());
  EXPECT_EQ(shapes.size(), expected.size());
  for (const auto& [name, shape] : expected) {
    auto it = shapes.find(name);
    ASSERT_NE(it, shapes.end()) << "missing " << name;
    EXPECT_EQ(it->second, shape) << name;
  }
  for (const auto& [name, shape] : shapes) EXPECT_TRUE(expected.count(name)) << "extra " << name;
}

TEST(Sam3RandomCheckpoint, ReleasedConfigurationRoundTripsAndHas840MParameters) {
  const sam3::Sam3Config defaults;
  const nlohmann::json j = sam3::config_json(defaults);
  EXPECT_EQ(j["model_type"], "sam3");
  const sam3::Sam3Config back = sam3::parse_config(j, "config.json");
  EXPECT_EQ(sam3::config_json(back), j);
  // Defaults equal to what an empty config.json (transformers' Sam3Config()) gives.
  EXPECT_EQ(sam3::config_json(sam3::parse_config(nlohmann::json{{"model_type", "sam3"}}, "config.json")), j);
  EXPECT_EQ(back.vision.backbone.image_size, 1008);
  EXPECT_EQ(back.vision.backbone.num_hidden_layers, 32);
  EXPECT_EQ(back.text.vocab_size, 49408);
  // The tiny config survives the round trip too.
  const sam3::Sam3Config tiny = sam3_tiny_config();
  EXPECT_EQ(sam3::config_json(sam3::parse_config(sam3::config_json(tiny), "config.json")), sam3::config_json(tiny));

  int64_t parameters = 0;
  for (const auto& [name, shape] : sam3::model_shapes(back)) parameters += numel(shape);
  EXPECT_NEAR(parameters / 1e6, 840, 10) << parameters;  // facebook/sam3's detector: ≈ 840 M
}

TEST(Sam3RandomCheckpoint, SyntheticClipVocabularyHasTheConfiguredSize) {
  const sam3::ClipVocabFiles files = sam3::synthetic_clip_vocab(49408);
  const text::ClipTokenizer t = text::ClipTokenizer::from_vocab_merges_text(files.vocab_json, files.merges_txt, "vocab.json",
                                                                           "merges.txt");
  EXPECT_EQ(t.vocab_size(), 49408);
  EXPECT_EQ(t.sot_id(), 49406);
  EXPECT_EQ(t.eot_id(), 49407);
  const nlohmann::json vocab = nlohmann::json::parse(files.vocab_json);
  EXPECT_EQ(vocab.at("!"), 0);
  EXPECT_EQ(vocab.at("!</w>"), 256);
  EXPECT_EQ(vocab.size(), 49408u);
  // Words become a few merged tokens; punctuation and other bytes stay single symbols.
  const std::vector<int64_t> ids = t.encode("A yellow truck, 2 cars!");
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 49406);
  EXPECT_EQ(ids.back(), 49407);
  EXPECT_LT(ids.size(), 16u);
  for (int64_t id : ids) EXPECT_LT(id, 49408);
  EXPECT_EQ(t.encode_content("a"), std::vector<int64_t>{vocab.at("a</w>").get<int64_t>()});
  EXPECT_EQ(t.encode_content("cat"), (std::vector<int64_t>{vocab.at("c").get<int64_t>(), vocab.at("at</w>").get<int64_t>()}));

  const sam3::ClipVocabFiles tiny = sam3::synthetic_clip_vocab(594);
  EXPECT_EQ(text::ClipTokenizer::from_vocab_merges_text(tiny.vocab_json, tiny.merges_txt, "v", "m").vocab_size(), 594);
  EXPECT_NE(error_of([] { sam3::synthetic_clip_vocab(513); }).find("514"), std::string::npos);
}

TEST(Sam3RandomCheckpoint, TinyFolderLoadsReadsEveryTensorAndRunsFinite) {
  TempDir dir;
  const std::string folder = dir.file("model");
  sam3::write_random_checkpoint(folder, tiny_config_path(), 7);
  for (const char* f : {"config.json", "model.safetensors", "processor_config.json", "vocab.json", "merges.txt"})
    EXPECT_TRUE(std::filesystem::is_regular_file(folder + "/" + f)) << f;

  // Every tensor written is one the parts' loaders read.
  const sam3::Sam3Config config = sam3_tiny_config();
  sam3::LoadedWeights loaded = sam3::read_weights(folder + "/model.safetensors", config);
  const nn::WeightMap& w = loaded.weights;
  sam3::VisionEncoder::load(w, config);
  sam3::TextEncoder::load(w, "", config.text);
  sam3::Detr::load(w, "", config.detr());
  sam3::MaskDecoder::load(w, "", config.mask_decoder.hidden_size, config.mask_decoder.num_attention_heads,
                          config.mask_decoder.num_upsampling_stages);
  EXPECT_TRUE(w.unused().empty()) << *w.unused().begin();

  const sam3::Model m = sam3::Model::load(folder);
  c10::InferenceMode guard;
  const int64_t side = m.config().vision.backbone.image_size;
  at::manual_seed(0);
  const at::Tensor pixels = at::rand({1, 3, side, side}) * 2 - 1;
  const sam3::ImageFeatures image = m.encode_image(pixels);
  for (const at::Tensor& level : image.fpn) {
    EXPECT_TRUE(all_finite(level));
    EXPECT_GT(level.std().item<double>(), 1e-3);  // not collapsed
    EXPECT_LT(level.abs().max().item<double>(), 1e4);
  }
  const sam3::TextFeatures text = m.encode_text({"truck", "a yellow truck"});
  EXPECT_TRUE(all_finite(text.tokens));
  const sam3::RawOutputs out = m.detect(image, text);
  for (const at::Tensor& t : {out.pred_logits, out.pred_boxes, out.presence_logits, out.pred_masks, out.semantic_seg})
    EXPECT_TRUE(all_finite(t));
  EXPECT_EQ(out.pred_logits.size(0), 2);
  EXPECT_EQ(m.postprocess(out, 0.0, 0.5, {{40, 60}, {40, 60}}).size(), 2u);

  // Encode once, ask many times: each phrase alone gives its row of the batch, and asking
  // leaves the image features as they were.
  const at::Tensor level = image.fpn.back().clone();
  for (int64_t i = 0; i < 2; ++i) {
    const sam3::RawOutputs one = m.detect(image, m.encode_text({i == 0 ? "truck" : "a yellow truck"}));
    EXPECT_LE((one.pred_logits[0] - out.pred_logits[i]).abs().max().item<double>(), 1e-5) << i;
    EXPECT_LE((one.pred_masks[0] - out.pred_masks[i]).abs().max().item<double>(), 1e-4) << i;
  }
  EXPECT_TRUE(at::equal(image.fpn.back(), level));
}

TEST(Sam3RandomCheckpoint, SameSeedSameBytes) {
  TempDir dir;
  sam3::write_random_checkpoint(dir.file("a"), tiny_config_path(), 3);
  sam3::write_random_checkpoint(dir.file("b"), tiny_config_path(), 3);
  sam3::write_random_checkpoint(dir.file("c"), tiny_config_path(), 4);
  const auto bytes = [&](const std::string& f) { return read_file(dir.file(f) + "/model.safetensors"); };
  EXPECT_EQ(bytes("a"), bytes("b"));
  EXPECT_NE(bytes("a"), bytes("c"));
  EXPECT_EQ(read_file(dir.file("a/vocab.json")), read_file(dir.file("c/vocab.json")));
}

TEST(Sam3RandomCheckpoint, VideoConfigPrefixesTheDetectorTensors) {
  TempDir dir;
  nlohmann::json tiny = read_json_file(tiny_config_path(), JsonLimits::config());
  const nlohmann::json video = {{"model_type", "sam3_video"}, {"detector_config", tiny}};
  std::ofstream(dir.file("config.json")) << video.dump();
  sam3::write_random_checkpoint(dir.file("video"), dir.file("config.json"));
  const auto file = SafetensorsFile::open(dir.file("video/model.safetensors"));
  EXPECT_TRUE(file->contains("detector_model.vision_encoder.backbone.layer_norm.weight"));
  EXPECT_FALSE(file->contains("vision_encoder.backbone.layer_norm.weight"));
  // No processor_config.json beside that config: the defaults for its 168 px input.
  const sam3::Model m = sam3::Model::load(dir.file("video"));
  EXPECT_EQ(m.processor_config().height, 168);
  EXPECT_EQ(m.processor_config().mask_height, 48);
}

TEST(Sam3RandomCheckpoint, RefusesAFolderWithATokenizerJsonBeforeWriting) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("out"));
  std::ofstream(dir.file("out/tokenizer.json")) << "{}";
  EXPECT_NE(error_of([&] { sam3::write_random_checkpoint(dir.file("out"), tiny_config_path()); }).find("tokenizer.json"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/model.safetensors")));
}

}  // namespace
}  // namespace segkit::test
