// SAM 3's text encoder (CLIP text model + SAM 3's projection) against transformers 5.17 on the
// tiny fixture model (tests/data/sam3/README.md): config parsing, every layer, the projected
// features of several phrases and a batch, the tokenizer feeding it, and the one-line errors.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoints/float_tensors.h"
#include "mask2former_fixtures.h"
#include "models/sam3/text_encoder.h"
#include "segkit/files.h"
#include "segkit/safetensors.h"
#include "test_util.h"
#include "text/clip_tokenizer.h"

namespace segkit::test {
namespace {

using sam3::TextEncoder;
using sam3::TextEncoderConfig;

const std::vector<std::string> kCases = {"img1_text0", "img0_text1", "img0_text5",
                                         "img0_text6", "img0_text7", "batch_images"};
constexpr double kTolerance = 1e-4;

nlohmann::json tiny_config() { return nlohmann::json::parse(read_text_file(data_path("sam3/model/config.json"))); }

const SafetensorsFile& cases() {
  static const auto f = SafetensorsFile::open(data_path("sam3/text_cases.safetensors"));
  return *f;
}

at::Tensor case_of(const std::string& name, const std::string& key) { return case_tensor(cases(), name + "/" + key); }

nn::WeightMap tiny_weights(const std::string& prefix = "") {
  static const checkpoints::FloatTensors file =
      checkpoints::read_safetensors_tensors(data_path("sam3/model/model.safetensors"));
  nn::WeightMap w("tiny sam3");
  for (const auto& [name, t] : file.tensors) w.insert(prefix + name, t);
  return w;
}

const TextEncoder& tiny_encoder() {
  static const TextEncoder e =
      TextEncoder::load(tiny_weights(), "", sam3::parse_text_encoder_config(tiny_config(), "config.json"));
  return e;
}

sam3::TextForwardOptions intermediates() {
  sam3::TextForwardOptions o;
  o.keep_intermediates = true;
  return o;
}

// Relative L2 over the real tokens only (padded positions are masked everywhere downstream).
double relative_l2_valid(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  const at::Tensor keep = mask.ne(0);
  return relative_l2(a.index({keep}), b.index({keep}));
}

TEST(Sam3TextConfig, TinyModel) {
  const TextEncoderConfig c = sam3::parse_text_encoder_config(tiny_config(), "config.json");
  EXPECT_EQ(c.vocab_size, 594);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.max_position_embeddings, 32);
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.hidden_act, sam3::TextActivation::Gelu);
  EXPECT_EQ(c.projection_dim, 32);
  EXPECT_EQ(c.eos_token_id, 593);
  EXPECT_EQ(c.output_size, 32);  // detr_encoder_config.hidden_size
}

TEST(Sam3TextConfig, WrappedInDetectorConfigAsSam3Video) {
  const nlohmann::json root = {{"model_type", "sam3_video"}, {"detector_config", tiny_config()}};
  const TextEncoderConfig c = sam3::parse_text_encoder_config(root, "config.json");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.output_size, 32);
  EXPECT_EQ(error_of([&] {
              sam3::parse_text_encoder_config({{"detector_config", {{"text_config", {{"num_hidden_layers", 0}}}}}},
                                              "config.json");
            }).rfind("config.json detector_config text_config: \"num_hidden_layers\"", 0),
            0u);
}

TEST(Sam3TextConfig, MissingTextConfigIsSam3sClip) {
  // Sam3Config builds the released model's CLIP when text_config is absent or null.
  for (const nlohmann::json& root : {nlohmann::json::object(), nlohmann::json{{"text_config", nullptr}}}) {
    const TextEncoderConfig c = sam3::parse_text_encoder_config(root, "config.json");
    EXPECT_EQ(c.vocab_size, 49408);
    EXPECT_EQ(c.hidden_size, 1024);
    EXPECT_EQ(c.intermediate_size, 4096);
    EXPECT_EQ(c.num_layers, 24);
    EXPECT_EQ(c.num_heads, 16);
    EXPECT_EQ(c.max_position_embeddings, 32);
    EXPECT_EQ(c.hidden_act, sam3::TextActivation::Gelu);
    EXPECT_EQ(c.output_size, 256);
  }
}

TEST(Sam3TextConfig, GivenTextConfigFallsBackToClipDefaults) {
  const TextEncoderConfig c =
      sam3::parse_text_encoder_config({{"text_config", {{"hidden_size", 64}, {"num_attention_heads", 4}}}}, "c.json");
  EXPECT_EQ(c.hidden_act, sam3::TextActivation::QuickGelu);
  EXPECT_EQ(c.max_position_embeddings, 77);
  EXPECT_EQ(c.num_layers, 12);
  EXPECT_EQ(c.intermediate_size, 2048);
}

TEST(Sam3TextConfig, BadFieldsAreOneLineErrors) {
  auto error_with = [](const std::string& field, const nlohmann::json& value) {
    nlohmann::json root = tiny_config();
    root["text_config"][field] = value;
    return error_of([&] { sam3::parse_text_encoder_config(root, "model/config.json"); });
  };
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"hidden_size", "64"}, {"hidden_size", 0}, {"vocab_size", 1.5}, {"num_attention_heads", -1},
           {"layer_norm_eps", 0}, {"hidden_act", "relu"}, {"hidden_act", 3}, {"max_position_embeddings", 1e12}}) {
    const std::string e = error_with(field, value);
    EXPECT_EQ(e.rfind("model/config.json text_config: \"" + field + "\"", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_NE(error_with("num_attention_heads", 5).find("not divisible"), std::string::npos);
  EXPECT_EQ(error_of([] { sam3::parse_text_encoder_config({{"text_config", 3}}, "c.json"); }),
            "c.json: \"text_config\" must be an object");
  EXPECT_EQ(error_of([] { sam3::parse_text_encoder_config({{"detector_config", "x"}}, "c.json"); }),
            "c.json: \"detector_config\" must be an object");
  EXPECT_EQ(error_of([] { sam3::parse_text_encoder_config(nlohmann::json::array(), "c.json"); }),
            "c.json: not a JSON object");
  nlohmann::json root = tiny_config();
  root["detr_encoder_config"]["hidden_size"] = "wide";
  EXPECT_EQ(error_of([&] { sam3::parse_text_encoder_config(root, "c.json"); })
                .rfind("c.json detr_encoder_config: \"hidden_size\"", 0),
            0u);
}

TEST(Sam3TextEncoder, LoadChecksShapesAgainstTheConfig) {
  TextEncoderConfig c = sam3::parse_text_encoder_config(tiny_config(), "config.json");
  TextEncoderConfig wrong = c;
  wrong.vocab_size = 600;
  EXPECT_NE(error_of([&] { TextEncoder::load(tiny_weights(), "", wrong); }).find("token_embedding"),
            std::string::npos);
  wrong = c;
  wrong.num_layers = 3;
  EXPECT_NE(error_of([&] { TextEncoder::load(tiny_weights(), "", wrong); }).find("has 2 layers"), std::string::npos);
  wrong = c;
  wrong.output_size = 256;
  EXPECT_NE(error_of([&] { TextEncoder::load(tiny_weights(), "", wrong); }).find("text_projection"), std::string::npos);
  wrong = c;
  wrong.intermediate_size = 100;
  EXPECT_NE(error_of([&] { TextEncoder::load(tiny_weights(), "", wrong); }).find("fc1"), std::string::npos);
  EXPECT_NE(error_of([&] { TextEncoder::load(tiny_weights(), "detector_model.", c); }).find("missing"),
            std::string::npos);
}

TEST(Sam3TextEncoder, EveryLayerMatchesTransformers) {
  const std::string name = "img1_text0";  // the case with every text module hooked
  const TextEncoder& e = tiny_encoder();
  const auto out = e.forward(case_of(name, "in.input_ids"), case_of(name, "in.attention_mask"), intermediates());
  const std::string t = "act.text_encoder.text_model.";
  EXPECT_LE(relative_l2(out.embeddings, case_of(name, t + "embeddings")), kTolerance);
  ASSERT_EQ(out.layers.size(), 2u);
  for (size_t i = 0; i < out.layers.size(); ++i)
    EXPECT_LE(relative_l2(out.layers[i], case_of(name, t + "encoder.layers." + std::to_string(i))), kTolerance) << i;
  EXPECT_LE(relative_l2(out.last_hidden_state, case_of(name, "act.text_encoder.last_hidden_state")), kTolerance);
  EXPECT_LE(relative_l2(out.clip_text_embeds, case_of(name, "act.text_encoder.text_embeds")), kTolerance);
  EXPECT_LE(relative_l2(out.token_features, case_of(name, "act.text_projection")), kTolerance);
}

TEST(Sam3TextEncoder, FeaturesOfEveryCaseMatchTransformers) {
  const TextEncoder& e = tiny_encoder();
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const at::Tensor ids = case_of(name, "in.input_ids"), mask = case_of(name, "in.attention_mask");
    const auto out = e.forward(ids, mask, intermediates());
    const at::Tensor want = case_of(name, "act.text_projection");
    ASSERT_EQ(out.token_features.sizes(), want.sizes());
    // Padded positions too: the causal + padding mask is reproduced exactly.
    EXPECT_LE(relative_l2(out.token_features, want), kTolerance);
    EXPECT_LE(relative_l2_valid(out.token_features, want, mask), kTolerance);
    EXPECT_LE(relative_l2(out.last_hidden_state, case_of(name, "act.text_encoder.last_hidden_state")), kTolerance);
    EXPECT_LE(relative_l2(out.clip_text_embeds, case_of(name, "act.text_encoder.text_embeds")), kTolerance);
    EXPECT_TRUE(out.mask.equal(mask.ne(0)));
    // Without intermediates only the features and the mask come back, the same.
    const auto plain = e.forward(ids, mask);
    EXPECT_TRUE(plain.token_features.equal(out.token_features));
    EXPECT_FALSE(plain.last_hidden_state.defined());
  }
}

TEST(Sam3TextEncoder, BatchRowsEqualSingleRows) {
  const TextEncoder& e = tiny_encoder();
  const at::Tensor ids = case_of("batch_images", "in.input_ids"), mask = case_of("batch_images", "in.attention_mask");
  const at::Tensor both = e.forward(ids, mask).token_features;
  for (int64_t r = 0; r < 2; ++r)
    EXPECT_LE(relative_l2(e.forward(ids.slice(0, r, r + 1), mask.slice(0, r, r + 1)).token_features,
                          both.slice(0, r, r + 1)),
              1e-6);
}

TEST(Sam3TextEncoder, TrimmingPaddingKeepsEveryRealPosition) {
  const TextEncoder& e = tiny_encoder();
  sam3::TextForwardOptions trim;
  trim.trim_padding = true;
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const at::Tensor ids = case_of(name, "in.input_ids"), mask = case_of(name, "in.attention_mask");
    const auto out = e.forward(ids, mask, trim);
    const at::Tensor want = case_of(name, "act.text_projection");
    ASSERT_EQ(out.token_features.sizes(), want.sizes());
    EXPECT_LE(relative_l2_valid(out.token_features, want, mask), kTolerance);
    // Zero after the batch's last real token; rows shorter than the longest keep their values.
    const int64_t n = mask.ne(0).any(0).nonzero().max().item<int64_t>() + 1;
    EXPECT_TRUE(out.token_features.slice(1, n).eq(0).all().item<bool>());
    EXPECT_LE(relative_l2(out.token_features.slice(1, 0, n), want.slice(1, 0, n)), kTolerance);
  }
}

TEST(Sam3TextEncoder, TokenizerAndEncoderFromTheRawText) {
  const auto tokenizer = text::ClipTokenizer::from_tokenizer_json(data_path("sam3/model/tokenizer.json"));
  const TextEncoder& e = tiny_encoder();
  tokenizer.require_vocab_size(e.config().vocab_size, "tiny sam3");
  const nlohmann::json texts = nlohmann::json::parse(cases().metadata().at("texts"));
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const text::ClipBatch batch = tokenizer.encode_padded(texts.at(name).get<std::vector<std::string>>());
    const at::Tensor ids = at::tensor(batch.input_ids, at::kLong).view({batch.batch, batch.length});
    const at::Tensor mask = at::tensor(batch.attention_mask, at::kLong).view({batch.batch, batch.length});
    EXPECT_TRUE(ids.equal(case_of(name, "in.input_ids")));
    EXPECT_TRUE(mask.equal(case_of(name, "in.attention_mask")));
    EXPECT_LE(relative_l2(e.forward(ids, mask).token_features, case_of(name, "act.text_projection")), kTolerance);
  }
}

TEST(Sam3TextEncoder, WeightsUnderTheVideoCheckpointsPrefix) {
  const TextEncoderConfig c = sam3::parse_text_encoder_config(tiny_config(), "config.json");
  const TextEncoder e = TextEncoder::load(tiny_weights("detector_model."), "detector_model.", c);
  const at::Tensor ids = case_of("img0_text1", "in.input_ids"), mask = case_of("img0_text1", "in.attention_mask");
  EXPECT_TRUE(e.forward(ids, mask).token_features.equal(tiny_encoder().forward(ids, mask).token_features));
}

TEST(Sam3TextEncoder, NoMaskMeansEveryTokenIsReal) {
  const TextEncoder& e = tiny_encoder();
  const at::Tensor ids = case_of("img0_text1", "in.input_ids");
  const auto out = e.forward(ids, at::Tensor());
  EXPECT_TRUE(out.mask.all().item<bool>());
  EXPECT_TRUE(out.token_features.equal(e.forward(ids, at::ones_like(ids)).token_features));
  // Under the causal mask, real tokens do not see the padding after them.
  const at::Tensor mask = case_of("img0_text1", "in.attention_mask");
  const at::Tensor keep = mask.ne(0);
  EXPECT_LE(relative_l2(out.token_features.index({keep}), e.forward(ids, mask).token_features.index({keep})),
            1e-6);
}

TEST(Sam3TextEncoder, RefusesBadInputsWithOneLineErrors) {
  const TextEncoder& e = tiny_encoder();
  const at::Tensor ids = case_of("img0_text1", "in.input_ids"), mask = case_of("img0_text1", "in.attention_mask");
  at::Tensor bad = ids.clone();
  bad[0][3] = 594;
  EXPECT_EQ(error_of([&] { e.forward(bad, mask); }),
            "SAM 3 text encoder: token id 594 is outside the vocabulary (0..593)");
  bad[0][3] = -1;
  EXPECT_NE(error_of([&] { e.forward(bad, mask); }).find("token id -1"), std::string::npos);
  const at::Tensor long_ids = at::zeros({1, 33}, at::kLong);
  EXPECT_EQ(error_of([&] { e.forward(long_ids, at::ones_like(long_ids)); }),
            "SAM 3 text encoder: a sequence of 33 tokens is longer than the model's 32 positions "
            "(max_position_embeddings)");
  EXPECT_NE(error_of([&] { e.forward(ids, mask.slice(1, 0, 31)); }).find("attention_mask is 1×31"), std::string::npos);
  EXPECT_NE(error_of([&] { e.forward(ids.view(-1), mask); }).find("batch × length"), std::string::npos);
  EXPECT_NE(error_of([&] { e.forward(ids.to(at::kFloat), mask); }).find("integers"), std::string::npos);
  EXPECT_NE(error_of([&] { e.forward(ids.slice(1, 0, 0), mask.slice(1, 0, 0)); }).find("empty"), std::string::npos);
}

}  // namespace
}  // namespace segkit::test
