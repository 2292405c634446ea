#pragma once
// SAM 3's config.json (transformers' Sam3Config, or a sam3_video config wrapping it under
// "detector_config") and processor_config.json (Sam3ImageProcessor), every field type- and
// range-checked, transformers' defaults (the released facebook/sam3 sizes) where a field is absent.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace segkit::sam3 {

struct ViTConfig {  // Sam3ViTConfig (vision_config.backbone_config)
  int hidden_size = 1024;
  int intermediate_size = 4736;
  int num_hidden_layers = 32;
  int num_attention_heads = 16;
  int num_channels = 3;
  int image_size = 1008;
  int patch_size = 14;
  int pretrain_image_size = 336;
  int window_size = 24;
  std::vector<int> global_attn_indexes{7, 15, 23, 31};
  double rope_theta = 10000.0;
  double layer_norm_eps = 1e-6;

  int grid_size() const { return image_size / patch_size; }           // tokens per side (72)
  int pretrain_grid_size() const { return pretrain_image_size / patch_size; }  // position table side (24)
  int head_dim() const { return hidden_size / num_attention_heads; }
  bool is_global(int layer) const;
};

struct VisionConfig {  // Sam3VisionConfig
  ViTConfig backbone;
  int fpn_hidden_size = 256;
  std::vector<double> scale_factors{4.0, 2.0, 1.0, 0.5};
};

enum class TextActivation { Gelu, QuickGelu };

// CLIP's text model (CLIPTextModelWithProjection) and SAM 3's projection after it.
struct TextEncoderConfig {
  // Sam3Config's text_config when the whole block is absent: the released model's CLIP.
  int vocab_size = 49408;
  int hidden_size = 1024;
  int intermediate_size = 4096;
  int num_layers = 24;
  int num_heads = 16;
  int max_position_embeddings = 32;
  double layer_norm_eps = 1e-5;
  TextActivation hidden_act = TextActivation::Gelu;
  int projection_dim = 512;    // CLIP's own text_projection (unused by SAM 3)
  int bos_token_id = 49406;
  int eos_token_id = 49407;    // where CLIP's pooled output is taken
  int pad_token_id = 1;
  int output_size = 256;       // SAM 3's text_projection: detr_encoder_config.hidden_size
};

enum class DetrActivation { Relu, Gelu };

// transformers 5.17's Sam3DETREncoderConfig, Sam3DETRDecoderConfig (the dot-product scoring
// head takes its sizes from the decoder's) and Sam3GeometryEncoderConfig, whose tokens join the
// prompt. Their layer_norm_eps is read nowhere: transformers builds these norms without it.
struct DetrEncoderConfig {
  int hidden_size = 256;
  int num_layers = 6;
  int num_heads = 8;
  int intermediate_size = 2048;
  DetrActivation hidden_act = DetrActivation::Relu;
};

struct DetrDecoderConfig {
  int hidden_size = 256;
  int num_layers = 6;
  int num_queries = 200;
  int num_heads = 8;
  int intermediate_size = 2048;  // the layers' MLP and the scoring head's text MLP
  DetrActivation hidden_act = DetrActivation::Relu;
};

struct GeometryEncoderConfig {
  int hidden_size = 256;
  int num_layers = 3;
  int num_heads = 8;
  int intermediate_size = 2048;
  int roi_size = 7;
  DetrActivation hidden_act = DetrActivation::Relu;
};

struct DetrConfig {  // what Detr::load takes
  DetrEncoderConfig encoder;
  DetrDecoderConfig decoder;
  GeometryEncoderConfig geometry;
};

struct MaskDecoderConfig {
  int hidden_size = 256;
  int num_upsampling_stages = 3;
  int num_attention_heads = 8;
};

struct Sam3Config {
  VisionConfig vision;
  TextEncoderConfig text;
  GeometryEncoderConfig geometry;
  DetrEncoderConfig detr_encoder;
  DetrDecoderConfig detr_decoder;
  MaskDecoderConfig mask_decoder;
  // "detector_model." for a sam3_video checkpoint (facebook/sam3), whose detector tensors carry it.
  std::string weight_prefix;

  DetrConfig detr() const { return {detr_encoder, detr_decoder, geometry}; }
};

// The one parse of config.json: a sam3 config, or one that wraps it in "detector_config"
// (model_type sam3_video, or no model_type). Absent blocks and fields take transformers'
// defaults; a present text_config is a CLIPTextConfig, so its absent fields take CLIP's own
// defaults (hidden 512, quick_gelu, 77 positions), as transformers does. Error "<path>[
// detector_config] <block>: ..." naming the field for a wrong type or value, for widths that
// cannot work together, or a model_type other than sam3 / sam3_video.
Sam3Config parse_config(const nlohmann::json& config, const std::string& path);

// The parts' views of parse_config.
inline DetrConfig parse_detr_config(const nlohmann::json& config, const std::string& path) {
  return parse_config(config, path).detr();
}
inline TextEncoderConfig parse_text_encoder_config(const nlohmann::json& config, const std::string& path) {
  return parse_config(config, path).text;
}

struct ProcessorConfig {  // Sam3ImageProcessor
  int height = 1008, width = 1008;
  int mask_height = 288, mask_width = 288;
  bool do_convert_rgb = true, do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::vector<float> image_mean{0.5f, 0.5f, 0.5f};
  std::vector<float> image_std{0.5f, 0.5f, 0.5f};
};

// Reads the image processor's fields at the top level or under "image_processor" (the layout a
// saved Sam3Processor writes). A missing file (path "") gives transformers' defaults.
ProcessorConfig parse_processor_config(const nlohmann::json& config, const std::string& path);

}  // namespace segkit::sam3
