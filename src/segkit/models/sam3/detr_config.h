#pragma once
// The DETR part of a SAM 3 config.json (transformers 5.17's Sam3DETREncoderConfig and
// Sam3DETRDecoderConfig; the dot-product scoring head takes its sizes from the decoder's), and
// the geometry (box prompt) encoder's Sam3GeometryEncoderConfig, whose tokens join the prompt.
#include <nlohmann/json.hpp>
#include <string>

namespace segkit::sam3 {

enum class DetrActivation { Relu, Gelu };

struct DetrEncoderConfig {  // defaults: the released model's
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

struct DetrConfig {
  DetrEncoderConfig encoder;
  DetrDecoderConfig decoder;
  GeometryEncoderConfig geometry;
};

// Reads detr_encoder_config, detr_decoder_config and geometry_encoder_config from config.json as a
// whole: a sam3 config, or one that wraps it in "detector_config" (sam3_video). Absent blocks and
// fields take transformers' defaults. The configs' layer_norm_eps is read nowhere: transformers
// builds these norms without it (PyTorch's 1e-5). Error "<file>[ detector_config] <block>:
// "<field>" must be ..." for a bad field, and for widths that cannot work together (heads not
// dividing the width, an odd width, an encoder, decoder or geometry encoder of different widths).
DetrConfig parse_detr_config(const nlohmann::json& root_config, const std::string& file);

}  // namespace segkit::sam3
