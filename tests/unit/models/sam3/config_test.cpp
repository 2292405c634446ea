// SAM 3's config.json and processor_config.json: the tiny fixture, transformers' defaults, the
// sam3_video layout of facebook/sam3, and one-line errors for fields that are wrong.
#include <gtest/gtest.h>

#include "sam3_vision_fixtures.h"

namespace segkit::test {
namespace {

using sam3::parse_config;
using sam3::parse_processor_config;

std::string config_error(const nlohmann::json& j) {
  return error_of([&] { parse_config(j, "config.json"); });
}

TEST(Sam3Config, ReadsTheTinyFixture) {
  const sam3::Sam3Config c = sam3_tiny_config();
  const sam3::ViTConfig& v = c.vision.backbone;
  EXPECT_EQ(v.hidden_size, 64);
  EXPECT_EQ(v.intermediate_size, 128);
  EXPECT_EQ(v.num_hidden_layers, 4);
  EXPECT_EQ(v.num_attention_heads, 4);
  EXPECT_EQ(v.image_size, 168);
  EXPECT_EQ(v.patch_size, 14);
  EXPECT_EQ(v.pretrain_image_size, 56);
  EXPECT_EQ(v.window_size, 4);
  EXPECT_EQ(v.global_attn_indexes, (std::vector<int>{1, 3}));
  EXPECT_TRUE(v.is_global(1));
  EXPECT_FALSE(v.is_global(2));
  EXPECT_DOUBLE_EQ(v.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(v.layer_norm_eps, 1e-6);
  EXPECT_EQ(v.grid_size(), 12);
  EXPECT_EQ(v.pretrain_grid_size(), 4);
  EXPECT_EQ(c.vision.fpn_hidden_size, 32);
  EXPECT_EQ(c.vision.scale_factors, (std::vector<double>{4.0, 2.0, 1.0, 0.5}));
  EXPECT_EQ(c.text.vocab_size, 594);
  EXPECT_EQ(c.text.hidden_size, 64);
  EXPECT_EQ(c.text.projection_dim, 32);
  EXPECT_EQ(c.text.max_position_embeddings, 32);
  EXPECT_EQ(c.text.eos_token_id, 593);
  EXPECT_EQ(c.geometry.num_layers, 2);
  EXPECT_EQ(c.geometry.roi_size, 7);
  EXPECT_EQ(c.detr_encoder.hidden_size, 32);
  EXPECT_EQ(c.detr_decoder.num_queries, 20);
  EXPECT_EQ(c.mask_decoder.num_upsampling_stages, 3);
  EXPECT_EQ(c.weight_prefix, "");
}

TEST(Sam3Config, AbsentFieldsTakeTransformersDefaults) {
  const sam3::Sam3Config c = parse_config(nlohmann::json::object(), "config.json");
  const sam3::ViTConfig& v = c.vision.backbone;
  EXPECT_EQ(v.hidden_size, 1024);
  EXPECT_EQ(v.intermediate_size, 4736);
  EXPECT_EQ(v.num_hidden_layers, 32);
  EXPECT_EQ(v.num_attention_heads, 16);
  EXPECT_EQ(v.image_size, 1008);
  EXPECT_EQ(v.pretrain_image_size, 336);
  EXPECT_EQ(v.window_size, 24);
  EXPECT_EQ(v.global_attn_indexes, (std::vector<int>{7, 15, 23, 31}));
  EXPECT_EQ(v.grid_size(), 72);
  EXPECT_EQ(c.vision.fpn_hidden_size, 256);
  EXPECT_EQ(c.text.vocab_size, 49408);
  EXPECT_EQ(c.text.num_layers, 24);
  EXPECT_EQ(c.detr_decoder.num_queries, 200);
  EXPECT_EQ(c.geometry.num_layers, 3);
}

TEST(Sam3Config, TheReleasedConfigurationIsTheDefaults) {
  const std::string path = data_path("sam3/full_config.json");
  const sam3::Sam3Config c = parse_config(read_json_file(path, JsonLimits::config()), path);
  const sam3::Sam3Config d = parse_config(nlohmann::json::object(), "config.json");
  EXPECT_EQ(c.vision.backbone.hidden_size, d.vision.backbone.hidden_size);
  EXPECT_EQ(c.vision.backbone.intermediate_size, d.vision.backbone.intermediate_size);
  EXPECT_EQ(c.vision.backbone.num_hidden_layers, d.vision.backbone.num_hidden_layers);
  EXPECT_EQ(c.vision.backbone.image_size, d.vision.backbone.image_size);
  EXPECT_EQ(c.vision.backbone.pretrain_image_size, d.vision.backbone.pretrain_image_size);
  EXPECT_EQ(c.vision.backbone.global_attn_indexes, d.vision.backbone.global_attn_indexes);
  EXPECT_EQ(c.vision.fpn_hidden_size, d.vision.fpn_hidden_size);
  EXPECT_EQ(c.text.hidden_size, d.text.hidden_size);
  EXPECT_EQ(c.text.num_layers, d.text.num_layers);
  EXPECT_EQ(c.text.projection_dim, d.text.projection_dim);
  EXPECT_EQ(c.text.max_position_embeddings, 32);
  EXPECT_EQ(c.detr_decoder.num_queries, 200);
  EXPECT_EQ(c.mask_decoder.hidden_size, 256);
}

TEST(Sam3Config, AcceptsTheVideoCheckpointLayout) {
  nlohmann::json detector = read_json_file(sam3_tiny() + "/config.json", JsonLimits::config());
  const nlohmann::json video = {{"model_type", "sam3_video"},
                                {"detector_config", detector},
                                {"tracker_config", {{"model_type", "sam3_tracker_video"}}}};
  const sam3::Sam3Config c = parse_config(video, "config.json");
  EXPECT_EQ(c.weight_prefix, "detector_model.");
  EXPECT_EQ(c.vision.backbone.hidden_size, 64);
  EXPECT_EQ(c.detr_decoder.num_queries, 20);
  EXPECT_EQ(config_error({{"model_type", "sam3_video"}}),
            "config.json: \"detector_config\" is missing (a sam3_video config holds the SAM 3 detector there)");
}

TEST(Sam3Config, OlderRopeThetaSpellingIsRead) {
  const nlohmann::json j = {{"vision_config", {{"backbone_config", {{"rope_theta", 500.0}}}}}};
  EXPECT_DOUBLE_EQ(parse_config(j, "config.json").vision.backbone.rope_theta, 500.0);
}

TEST(Sam3Config, WrongFieldsGiveOneLineErrors) {
  auto vit = [](nlohmann::json backbone) { return nlohmann::json{{"vision_config", {{"backbone_config", backbone}}}}; };
  EXPECT_EQ(config_error({{"model_type", "sam"}}),
            "config.json: \"model_type\" is \"sam\", not a SAM 3 model (\"sam3\" or \"sam3_video\")");
  EXPECT_EQ(config_error(nlohmann::json::array()), "config.json: not a JSON object");
  EXPECT_EQ(config_error({{"vision_config", 3}}), "config.json: \"vision_config\" must be an object");
  EXPECT_NE(config_error(vit({{"hidden_size", "64"}})).find("config.json vision_config backbone_config: \"hidden_size\""),
            std::string::npos);
  EXPECT_NE(config_error(vit({{"num_hidden_layers", 2.5}})).find("\"num_hidden_layers\""), std::string::npos);
  EXPECT_EQ(config_error(vit({{"hidden_size", 96}, {"num_attention_heads", 16}})),
            "config.json vision_config backbone_config: head width 6 (hidden_size / num_attention_heads) must be a "
            "multiple of 4 for the axial RoPE");
  EXPECT_EQ(config_error(vit({{"hidden_size", 100}, {"num_attention_heads", 3}})),
            "config.json vision_config backbone_config: \"hidden_size\" 100 is not divisible by its 3 attention heads");
  EXPECT_EQ(config_error(vit({{"image_size", 1000}})),
            "config.json vision_config backbone_config: \"image_size\" 1000 is not a multiple of \"patch_size\" 14");
  EXPECT_EQ(config_error(vit({{"image_size", {1008, 1022}}})),
            "config.json vision_config backbone_config: \"image_size\" must be one size or two equal sizes (segkit "
            "runs square inputs)");
  EXPECT_EQ(config_error(vit({{"global_attn_indexes", {7, 40}}})),
            "config.json vision_config backbone_config: \"global_attn_indexes\" names layer 40 of 32");
  EXPECT_EQ(config_error(vit({{"layer_scale_init_value", 0.1}})),
            "config.json vision_config backbone_config: \"layer_scale_init_value\" is 0.1; SAM 3's ViT has no layer "
            "scale (null)");
  EXPECT_EQ(config_error(vit({{"hidden_act", "relu"}})),
            "config.json vision_config backbone_config: \"hidden_act\" is \"relu\"; SAM 3 uses \"gelu\"");
  EXPECT_EQ(config_error(vit({{"rope_parameters", {{"rope_type", "default"}}}})),
            "config.json vision_config backbone_config rope_parameters: \"rope_type\" is \"default\"; SAM 3 uses "
            "\"axial\"");
  EXPECT_EQ(config_error(vit({{"layer_norm_eps", 0}})),
            "config.json vision_config backbone_config: \"layer_norm_eps\" must be in (0, 1)");
  EXPECT_EQ(config_error({{"vision_config", {{"scale_factors", {4.0, 3.0}}}}}),
            "config.json vision_config: \"scale_factors\" holds 3.0; SAM 3's neck has scales 4, 2, 1 and 0.5 only");
  EXPECT_EQ(config_error({{"vision_config", {{"scale_factors", nlohmann::json::array()}}}}),
            "config.json vision_config: \"scale_factors\" must be a non-empty list");
  EXPECT_EQ(config_error({{"detr_decoder_config", {{"hidden_size", 256}, {"num_attention_heads", 7}}}}),
            "config.json detr_decoder_config: \"hidden_size\" 256 is not divisible by its 7 attention heads");
  EXPECT_EQ(config_error({{"mask_decoder_config", {{"hidden_size", 36}, {"num_attention_heads", 4}}}}),
            "config.json mask_decoder_config: \"hidden_size\" must be a multiple of 8 (group norms of 8 groups)");
  EXPECT_EQ(config_error({{"text_config", {{"model_type", "t5"}}}}),
            "config.json text_config: \"model_type\" is \"t5\"; SAM 3 uses \"clip_text_model\"");
}

TEST(Sam3ProcessorConfig, ReadsTheSavedProcessorLayout) {
  const sam3::ProcessorConfig p = sam3_tiny_processor();
  EXPECT_EQ(p.height, 168);
  EXPECT_EQ(p.width, 168);
  EXPECT_EQ(p.mask_height, 48);
  EXPECT_EQ(p.mask_width, 48);
  EXPECT_NEAR(p.rescale_factor, 1.0 / 255, 1e-15);
  EXPECT_EQ(p.image_mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
}

TEST(Sam3ProcessorConfig, TopLevelFieldsAndDefaults) {
  const sam3::ProcessorConfig d = parse_processor_config(nlohmann::json(), "");
  EXPECT_EQ(d.height, 1008);
  EXPECT_EQ(d.mask_height, 288);
  const nlohmann::json top = {{"image_processor_type", "Sam3ImageProcessorFast"}, {"size", {{"height", 560}, {"width", 560}}}};
  EXPECT_EQ(parse_processor_config(top, "preprocessor_config.json").width, 560);
}

TEST(Sam3ProcessorConfig, WrongFieldsGiveOneLineErrors) {
  auto error = [](const nlohmann::json& j) {
    return error_of([&] { parse_processor_config(j, "processor_config.json"); });
  };
  EXPECT_EQ(error({{"image_processor", {{"size", {{"shortest_edge", 1008}}}}}}),
            "processor_config.json image_processor: \"size\" must be {\"height\": H, \"width\": W}");
  EXPECT_EQ(error({{"resample", 3}}),
            "processor_config.json: \"resample\" must be 2 (bilinear), the resampling Sam3ImageProcessor uses");
  EXPECT_EQ(error({{"image_std", {0.5, 0, 0.5}}}), "processor_config.json: \"image_std\" values must be positive");
  EXPECT_EQ(error({{"image_mean", {0.5, 0.5}}}),
            "processor_config.json: \"image_mean\" and \"image_std\" must have 3 values");
  EXPECT_EQ(error({{"do_rescale", "yes"}}), "processor_config.json: \"do_rescale\" must be true or false");
  EXPECT_EQ(error({{"image_processor_type", "SamImageProcessor"}}),
            "processor_config.json: \"image_processor_type\" is \"SamImageProcessor\", not Sam3ImageProcessor");
}

}  // namespace
}  // namespace segkit::test
