#include "models/sam3/config.h"

#include <algorithm>
#include <cmath>

#include "core/json_fields.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

constexpr int64_t kMaxWidth = 1 << 14;  // channels, hidden sizes
constexpr int64_t kMaxCount = 1 << 12;  // layers, heads, queries
constexpr int64_t kMaxSide = 1 << 14;   // image sides in pixels
constexpr int64_t kMaxQueries = 1 << 16;
constexpr int64_t kMaxVocab = 1 << 24;

// A sub-config object, or nullptr when absent; Error when present but not an object.
const nlohmann::json* sub_config(const nlohmann::json& parent, const std::string& path, const char* key) {
  const nlohmann::json* j = json_field(&parent, key);
  if (j && !j->is_object()) fail(path, std::string("\"") + key + "\" must be an object");
  return j;
}

// transformers takes an int or an [h, w] pair for image sizes; segkit runs square inputs only
// (the RoPE tables of global layers are built for a square grid there too).
void read_side(const nlohmann::json* j, const std::string& context, const char* key, int& out) {
  const nlohmann::json* v = json_field(j, key);
  if (!v) return;
  if (v->is_array()) {
    std::vector<int> pair;
    read_optional(j, context, key, pair, 1, kMaxSide);
    if (pair.size() != 2 || pair[0] != pair[1])
      fail(context, std::string("\"") + key + "\" must be one size or two equal sizes (segkit runs square inputs)");
    out = pair[0];
    return;
  }
  read_optional(j, context, key, out, 1, kMaxSide);
}

void require_string(const nlohmann::json* j, const std::string& context, const char* key, const char* expected) {
  const nlohmann::json* v = json_field(j, key);
  if (v && (!v->is_string() || v->get<std::string>() != expected))
    fail(context, std::string("\"") + key + "\" is " + v->dump() + "; SAM 3 uses \"" + expected + "\"");
}

void check_positive_eps(double eps, const std::string& context, const char* key) {
  if (!(eps > 0 && eps < 1)) fail(context, std::string("\"") + key + "\" must be in (0, 1)");
}

void check_heads(int width, int heads, const std::string& context) {
  if (width % heads != 0)
    fail(context, "\"hidden_size\" " + std::to_string(width) + " is not divisible by its " + std::to_string(heads) +
                      " attention heads");
}

ViTConfig parse_vit(const nlohmann::json* j, const std::string& ctx) {
  ViTConfig c;
  if (!j) return c;
  require_string(j, ctx, "model_type", "sam3_vit_model");
  require_string(j, ctx, "hidden_act", "gelu");
  read_optional(j, ctx, "hidden_size", c.hidden_size, 1, kMaxWidth);
  read_optional(j, ctx, "intermediate_size", c.intermediate_size, 1, kMaxWidth * 8);
  read_optional(j, ctx, "num_hidden_layers", c.num_hidden_layers, 1, kMaxCount);
  read_optional(j, ctx, "num_attention_heads", c.num_attention_heads, 1, kMaxCount);
  read_optional(j, ctx, "num_channels", c.num_channels, 3, 3);
  read_side(j, ctx, "image_size", c.image_size);
  read_side(j, ctx, "patch_size", c.patch_size);
  read_side(j, ctx, "pretrain_image_size", c.pretrain_image_size);
  read_optional(j, ctx, "window_size", c.window_size, 0, kMaxCount);
  if (const nlohmann::json* g = json_field(j, "global_attn_indexes")) {
    c.global_attn_indexes.clear();
    if (!g->is_null()) read_optional(j, ctx, "global_attn_indexes", c.global_attn_indexes, 0, kMaxCount);
  }
  read_optional(j, ctx, "layer_norm_eps", c.layer_norm_eps);
  // Older files have rope_theta at the top; newer ones put it under rope_parameters.
  read_optional(j, ctx, "rope_theta", c.rope_theta);
  if (const nlohmann::json* rope = json_field(j, "rope_parameters")) {
    if (!rope->is_object()) fail(ctx, "\"rope_parameters\" must be an object");
    read_optional(rope, ctx + " rope_parameters", "rope_theta", c.rope_theta);
    require_string(rope, ctx + " rope_parameters", "rope_type", "axial");
  }
  if (const nlohmann::json* scale = json_field(j, "layer_scale_init_value"))
    fail(ctx, "\"layer_scale_init_value\" is " + scale->dump() + "; SAM 3's ViT has no layer scale (null)");

  check_positive_eps(c.layer_norm_eps, ctx, "layer_norm_eps");
  if (!(c.rope_theta > 1 && std::isfinite(c.rope_theta))) fail(ctx, "\"rope_theta\" must be a finite number above 1");
  check_heads(c.hidden_size, c.num_attention_heads, ctx);
  if (c.head_dim() % 4 != 0)
    fail(ctx, "head width " + std::to_string(c.head_dim()) + " (hidden_size / num_attention_heads) must be a multiple "
                  "of 4 for the axial RoPE");
  if (c.image_size % c.patch_size != 0)
    fail(ctx, "\"image_size\" " + std::to_string(c.image_size) + " is not a multiple of \"patch_size\" " +
                  std::to_string(c.patch_size));
  if (c.pretrain_image_size % c.patch_size != 0)
    fail(ctx, "\"pretrain_image_size\" " + std::to_string(c.pretrain_image_size) + " is not a multiple of \"patch_size\" " +
                  std::to_string(c.patch_size));
  if (c.window_size == 0) fail(ctx, "\"window_size\" must be positive (it also scales the global layers' RoPE)");
  for (int i : c.global_attn_indexes)
    if (i >= c.num_hidden_layers)
      fail(ctx, "\"global_attn_indexes\" names layer " + std::to_string(i) + " of " + std::to_string(c.num_hidden_layers));
  return c;
}

VisionConfig parse_vision(const nlohmann::json* j, const std::string& ctx) {
  VisionConfig c;
  if (!j) return c;
  require_string(j, ctx, "model_type", "sam3_vision_model");
  require_string(j, ctx, "hidden_act", "gelu");
  c.backbone = parse_vit(sub_config(*j, ctx, "backbone_config"), ctx + " backbone_config");
  read_optional(j, ctx, "fpn_hidden_size", c.fpn_hidden_size, 2, kMaxWidth);
  if (const nlohmann::json* s = json_field(j, "scale_factors")) {
    if (!s->is_array() || s->empty()) fail(ctx, "\"scale_factors\" must be a non-empty list");
    read_optional(j, ctx, "scale_factors", c.scale_factors);
  }
  for (double s : c.scale_factors)
    if (s != 4.0 && s != 2.0 && s != 1.0 && s != 0.5)
      fail(ctx, "\"scale_factors\" holds " + nlohmann::json(s).dump() + "; SAM 3's neck has scales 4, 2, 1 and 0.5 only");
  if (c.fpn_hidden_size % 2 != 0) fail(ctx, "\"fpn_hidden_size\" must be even (sine position encoding)");
  const int C = c.backbone.hidden_size;
  if (C % 4 != 0) fail(ctx, "backbone \"hidden_size\" must be a multiple of 4 (the neck's ×4 level has C/4 channels)");
  return c;
}

// A given text_config is a CLIPTextConfig: its absent fields take CLIP's defaults, not SAM 3's.
TextEncoderConfig parse_text(const nlohmann::json* j, const std::string& ctx) {
  TextEncoderConfig c;
  if (!j) return c;
  c.hidden_size = 512;
  c.intermediate_size = 2048;
  c.num_layers = 12;
  c.num_heads = 8;
  c.max_position_embeddings = 77;
  c.hidden_act = TextActivation::QuickGelu;
  require_string(j, ctx, "model_type", "clip_text_model");
  read_optional(j, ctx, "vocab_size", c.vocab_size, 1, kMaxVocab);
  read_optional(j, ctx, "hidden_size", c.hidden_size, 1, kMaxWidth);
  read_optional(j, ctx, "intermediate_size", c.intermediate_size, 1, kMaxWidth * 8);
  read_optional(j, ctx, "projection_dim", c.projection_dim, 1, kMaxWidth);
  read_optional(j, ctx, "num_hidden_layers", c.num_layers, 1, kMaxCount);
  read_optional(j, ctx, "num_attention_heads", c.num_heads, 1, kMaxCount);
  read_optional(j, ctx, "max_position_embeddings", c.max_position_embeddings, 1, kMaxWidth);
  read_optional(j, ctx, "layer_norm_eps", c.layer_norm_eps);
  read_optional(j, ctx, "bos_token_id", c.bos_token_id, 0, kMaxVocab);
  read_optional(j, ctx, "eos_token_id", c.eos_token_id, 0, kMaxVocab);
  read_optional(j, ctx, "pad_token_id", c.pad_token_id, 0, kMaxVocab);
  if (const nlohmann::json* act = json_field(j, "hidden_act")) {
    const std::string name = act->is_string() ? act->get<std::string>() : act->dump();
    if (name == "gelu") c.hidden_act = TextActivation::Gelu;
    else if (name == "quick_gelu") c.hidden_act = TextActivation::QuickGelu;
    else fail(ctx, "\"hidden_act\" is " + act->dump() + "; segkit runs \"gelu\" (SAM 3's) and \"quick_gelu\"");
  }
  check_positive_eps(c.layer_norm_eps, ctx, "layer_norm_eps");
  check_heads(c.hidden_size, c.num_heads, ctx);
  return c;
}

void read_activation(const nlohmann::json* block, const std::string& ctx, DetrActivation& out) {
  const nlohmann::json* act = json_field(block, "hidden_act");
  if (!act) return;
  const std::string name = act->is_string() ? act->get<std::string>() : act->dump();
  if (name == "relu") out = DetrActivation::Relu;
  else if (name == "gelu") out = DetrActivation::Gelu;
  else fail(ctx, "\"hidden_act\" is " + act->dump() + "; segkit runs \"relu\" (SAM 3's) and \"gelu\"");
}

// The DETR-style parts share these fields; the width checks come after all are read.
template <typename T>
void read_common(const nlohmann::json* j, const std::string& ctx, T& c, const char* model_type) {
  require_string(j, ctx, "model_type", model_type);
  read_optional(j, ctx, "hidden_size", c.hidden_size, 1, kMaxWidth);
  read_optional(j, ctx, "num_layers", c.num_layers, 1, kMaxCount);
  read_optional(j, ctx, "num_attention_heads", c.num_heads, 1, kMaxCount);
  read_optional(j, ctx, "intermediate_size", c.intermediate_size, 1, kMaxWidth * 8);
  read_activation(j, ctx, c.hidden_act);
  check_heads(c.hidden_size, c.num_heads, ctx);
}

GeometryEncoderConfig parse_geometry(const nlohmann::json* j, const std::string& ctx) {
  GeometryEncoderConfig c;
  if (!j) return c;
  read_common(j, ctx, c, "sam3_geometry_encoder");
  read_optional(j, ctx, "roi_size", c.roi_size, 1, 64);
  return c;
}

DetrEncoderConfig parse_detr_encoder(const nlohmann::json* j, const std::string& ctx) {
  DetrEncoderConfig c;
  if (!j) return c;
  read_common(j, ctx, c, "sam3_detr_encoder");
  return c;
}

DetrDecoderConfig parse_detr_decoder(const nlohmann::json* j, const std::string& ctx) {
  DetrDecoderConfig c;
  if (!j) return c;
  read_common(j, ctx, c, "sam3_detr_decoder");
  read_optional(j, ctx, "num_queries", c.num_queries, 1, kMaxQueries);
  return c;
}

// The encoder's memory, the decoder's queries, the geometry tokens and the projected text meet
// in one attention width; the query and box sine encodings spend hidden_size / 2 per coordinate.
void check_detr_widths(const Sam3Config& c, const std::string& ctx) {
  const std::string dc = ctx + " detr_decoder_config", gc = ctx + " geometry_encoder_config";
  const int e = c.detr_encoder.hidden_size;
  if (c.detr_decoder.hidden_size % 2 != 0)
    fail(dc, "\"hidden_size\" " + std::to_string(c.detr_decoder.hidden_size) + " must be even");
  if (c.detr_decoder.hidden_size != e)
    fail(dc, "\"hidden_size\" " + std::to_string(c.detr_decoder.hidden_size) + " differs from detr_encoder_config's " +
                 std::to_string(e));
  if (c.geometry.hidden_size % 2 != 0)
    fail(gc, "\"hidden_size\" " + std::to_string(c.geometry.hidden_size) + " must be even");
  if (c.geometry.hidden_size != e)
    fail(gc, "\"hidden_size\" " + std::to_string(c.geometry.hidden_size) + " differs from detr_encoder_config's " +
                 std::to_string(e));
}

MaskDecoderConfig parse_mask_decoder(const nlohmann::json* j, const std::string& ctx) {
  MaskDecoderConfig c;
  if (!j) return c;
  require_string(j, ctx, "model_type", "sam3_mask_decoder");
  read_optional(j, ctx, "hidden_size", c.hidden_size, 1, kMaxWidth);
  read_optional(j, ctx, "num_attention_heads", c.num_attention_heads, 1, kMaxCount);
  check_heads(c.hidden_size, c.num_attention_heads, ctx);
  read_optional(j, ctx, "num_upsampling_stages", c.num_upsampling_stages, 1, 16);
  if (c.hidden_size % 8 != 0) fail(ctx, "\"hidden_size\" must be a multiple of 8 (group norms of 8 groups)");
  return c;
}

}  // namespace

bool ViTConfig::is_global(int layer) const {
  return std::find(global_attn_indexes.begin(), global_attn_indexes.end(), layer) != global_attn_indexes.end();
}

Sam3Config parse_config(const nlohmann::json& config, const std::string& path) {
  if (!config.is_object()) fail(path, "not a JSON object");
  const nlohmann::json* type = json_field(&config, "model_type");
  if (type && !type->is_string()) fail(path, "\"model_type\" must be a string");
  const std::string model_type = type ? type->get<std::string>() : "sam3";
  const nlohmann::json* root = &config;
  std::string ctx = path;
  Sam3Config c;
  // facebook/sam3 is saved as the video model: the image detector is its "detector_config", and
  // its tensors carry the "detector_model." prefix. A config without model_type is read the same.
  const nlohmann::json* detector = model_type == "sam3" && type ? nullptr : sub_config(config, path, "detector_config");
  if (model_type == "sam3_video" || (model_type == "sam3" && detector)) {
    if (!detector) fail(path, "\"detector_config\" is missing (a sam3_video config holds the SAM 3 detector there)");
    root = detector;
    ctx = path + " detector_config";
    c.weight_prefix = "detector_model.";
    require_string(root, ctx, "model_type", "sam3");
  } else if (model_type != "sam3") {
    fail(path, "\"model_type\" is \"" + model_type + "\", not a SAM 3 model (\"sam3\" or \"sam3_video\")");
  }
  c.vision = parse_vision(sub_config(*root, ctx, "vision_config"), ctx + " vision_config");
  c.text = parse_text(sub_config(*root, ctx, "text_config"), ctx + " text_config");
  c.geometry = parse_geometry(sub_config(*root, ctx, "geometry_encoder_config"), ctx + " geometry_encoder_config");
  c.detr_encoder = parse_detr_encoder(sub_config(*root, ctx, "detr_encoder_config"), ctx + " detr_encoder_config");
  c.detr_decoder = parse_detr_decoder(sub_config(*root, ctx, "detr_decoder_config"), ctx + " detr_decoder_config");
  c.mask_decoder = parse_mask_decoder(sub_config(*root, ctx, "mask_decoder_config"), ctx + " mask_decoder_config");
  check_detr_widths(c, ctx);
  c.text.output_size = c.detr_encoder.hidden_size;
  return c;
}

ProcessorConfig parse_processor_config(const nlohmann::json& config, const std::string& path) {
  ProcessorConfig p;
  if (path.empty()) return p;
  if (!config.is_object()) fail(path, "not a JSON object");
  const nlohmann::json* j = sub_config(config, path, "image_processor");
  const std::string ctx = j ? path + " image_processor" : path;
  if (!j) j = &config;
  if (const nlohmann::json* type = json_field(j, "image_processor_type"))
    if (!type->is_string() || (type->get<std::string>() != "Sam3ImageProcessor" &&
                               type->get<std::string>() != "Sam3ImageProcessorFast"))
      fail(ctx, "\"image_processor_type\" is " + type->dump() + ", not Sam3ImageProcessor");
  auto read_bool = [&](const char* key, bool& out) {
    if (const nlohmann::json* v = json_field(j, key)) {
      if (!v->is_boolean()) fail(ctx, std::string("\"") + key + "\" must be true or false");
      out = v->get<bool>();
    }
  };
  read_bool("do_convert_rgb", p.do_convert_rgb);
  read_bool("do_resize", p.do_resize);
  read_bool("do_rescale", p.do_rescale);
  read_bool("do_normalize", p.do_normalize);
  read_optional(j, ctx, "rescale_factor", p.rescale_factor);
  auto read_size = [&](const char* key, int& height, int& width) {
    const nlohmann::json* size = json_field(j, key);
    if (!size) return;
    if (!size->is_object() || !size->contains("height") || !size->contains("width"))
      fail(ctx, std::string("\"") + key + "\" must be {\"height\": H, \"width\": W}");
    read_required(*size, ctx + " " + key, "height", height, 1, kMaxSide);
    read_required(*size, ctx + " " + key, "width", width, 1, kMaxSide);
  };
  read_size("size", p.height, p.width);
  read_size("mask_size", p.mask_height, p.mask_width);
  read_optional(j, ctx, "image_mean", p.image_mean);
  read_optional(j, ctx, "image_std", p.image_std);
  if (p.image_mean.size() != 3 || p.image_std.size() != 3)
    fail(ctx, "\"image_mean\" and \"image_std\" must have 3 values");
  for (float s : p.image_std)
    if (!(s > 0)) fail(ctx, "\"image_std\" values must be positive");
  if (!(p.rescale_factor > 0)) fail(ctx, "\"rescale_factor\" must be positive");
  if (const nlohmann::json* resample = json_field(j, "resample"))
    if (!resample->is_number_integer() || resample->get<int64_t>() != 2)
      fail(ctx, "\"resample\" must be 2 (bilinear), the resampling Sam3ImageProcessor uses");
  if (!p.do_resize) fail(ctx, "\"do_resize\" false is not supported (the model needs its fixed input size)");
  return p;
}

}  // namespace segkit::sam3
