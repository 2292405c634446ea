// Parsing the DETR part of a SAM 3 config.json: the tiny model's, the sam3_video wrapper,
// transformers' defaults and one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/sam3/config.h"
#include "sam3_detr_fixtures.h"

namespace segkit::test {
namespace {

using sam3::DetrConfig;

TEST(Sam3DetrConfig, TinyModel) {
  const DetrConfig c = sam3::parse_detr_config(sam3_tiny_config(), "config.json");
  EXPECT_EQ(c.encoder.hidden_size, 32);
  EXPECT_EQ(c.encoder.num_layers, 2);
  EXPECT_EQ(c.encoder.num_heads, 4);
  EXPECT_EQ(c.encoder.intermediate_size, 64);
  EXPECT_EQ(c.encoder.hidden_act, sam3::DetrActivation::Relu);
  EXPECT_EQ(c.decoder.hidden_size, 32);
  EXPECT_EQ(c.decoder.num_layers, 2);
  EXPECT_EQ(c.decoder.num_queries, 20);
  EXPECT_EQ(c.decoder.num_heads, 4);
  EXPECT_EQ(c.decoder.intermediate_size, 64);
  EXPECT_EQ(c.decoder.hidden_act, sam3::DetrActivation::Relu);
}

TEST(Sam3DetrConfig, WrappedInDetectorConfigAsSam3Video) {
  const nlohmann::json root = {{"model_type", "sam3_video"}, {"detector_config", sam3_tiny_config()}};
  const DetrConfig c = sam3::parse_detr_config(root, "config.json");
  EXPECT_EQ(c.decoder.num_queries, 20);
  EXPECT_EQ(c.encoder.hidden_size, 32);
  const std::string e = error_of([] {
    sam3::parse_detr_config({{"detector_config", {{"detr_decoder_config", {{"num_queries", 0}}}}}}, "config.json");
  });
  EXPECT_EQ(e.rfind("config.json detector_config detr_decoder_config: \"num_queries\"", 0), 0u) << e;
}

TEST(Sam3DetrConfig, MissingBlocksAreTheReleasedModel) {
  for (const nlohmann::json& root :
       {nlohmann::json::object(), nlohmann::json{{"detr_encoder_config", nullptr}, {"detr_decoder_config", {}}}}) {
    const DetrConfig c = sam3::parse_detr_config(root, "config.json");
    EXPECT_EQ(c.encoder.hidden_size, 256);
    EXPECT_EQ(c.encoder.num_layers, 6);
    EXPECT_EQ(c.encoder.num_heads, 8);
    EXPECT_EQ(c.encoder.intermediate_size, 2048);
    EXPECT_EQ(c.decoder.hidden_size, 256);
    EXPECT_EQ(c.decoder.num_layers, 6);
    EXPECT_EQ(c.decoder.num_queries, 200);
    EXPECT_EQ(c.decoder.num_heads, 8);
    EXPECT_EQ(c.decoder.intermediate_size, 2048);
  }
}

TEST(Sam3DetrConfig, BadFieldsAreOneLineErrors) {
  auto error_with = [](const std::string& block, const std::string& field, const nlohmann::json& value) {
    nlohmann::json root = sam3_tiny_config();
    root[block][field] = value;
    return error_of([&] { sam3::parse_detr_config(root, "model/config.json"); });
  };
  for (const std::string block : {"detr_encoder_config", "detr_decoder_config"}) {
    for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
             {"hidden_size", "32"}, {"hidden_size", 0}, {"num_layers", 1.5}, {"num_attention_heads", -1},
             {"intermediate_size", 1e12}, {"hidden_act", "swish"}, {"hidden_act", 3}, {"num_attention_heads", 5}}) {
      const std::string e = error_with(block, field, value);
      // A head count that does not divide the width is reported on the width.
      const std::string named = field == "num_attention_heads" && value == 5 ? "hidden_size" : field;
      EXPECT_EQ(e.rfind("model/config.json " + block + ": \"" + named + "\"", 0), 0u)
          << e;
      EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    }
  }
  EXPECT_NE(error_with("detr_decoder_config", "num_attention_heads", 5).find("not divisible"), std::string::npos);
  EXPECT_NE(error_with("detr_decoder_config", "hidden_size", 64).find("differs from detr_encoder_config's 32"),
            std::string::npos);
  nlohmann::json odd = sam3_tiny_config();
  odd["detr_encoder_config"]["hidden_size"] = 33;
  odd["detr_encoder_config"]["num_attention_heads"] = 3;
  odd["detr_decoder_config"]["hidden_size"] = 33;
  odd["detr_decoder_config"]["num_attention_heads"] = 3;
  EXPECT_NE(error_of([&] { sam3::parse_detr_config(odd, "c.json"); }).find("must be even"), std::string::npos);
  EXPECT_EQ(error_of([] { sam3::parse_detr_config({{"detr_encoder_config", 3}}, "c.json"); }),
            "c.json: \"detr_encoder_config\" must be an object");
  EXPECT_EQ(error_of([] { sam3::parse_detr_config({{"detector_config", "x"}}, "c.json"); }),
            "c.json: \"detector_config\" must be an object");
  EXPECT_EQ(error_of([] { sam3::parse_detr_config(nlohmann::json::array(), "c.json"); }), "c.json: not a JSON object");
}

}  // namespace
}  // namespace segkit::test
