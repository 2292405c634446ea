#include "models/mask2former/config.h"

#include <sstream>

#include "core/json_fields.h"
#include "segkit/error.h"

namespace segkit {

std::string Mask2FormerConfig::describe() const {
  std::ostringstream o;
  o << "Mask2Former Swin dim " << embed_dim << ", depths [";
  for (size_t i = 0; i < depths.size(); ++i) o << (i ? "," : "") << depths[i];
  o << "], hidden " << hidden_dim << ", " << encoder_layers << " encoder layers, " << decoder_layers
    << " decoder layers, " << num_queries << " queries, " << num_labels() << " labels";
  return o.str();
}

}  // namespace segkit

namespace segkit::mask2former {

namespace {

constexpr int64_t kMaxWidth = 1 << 14;   // channels, hidden sizes
constexpr int64_t kMaxCount = 1 << 12;   // layers, heads, queries, window sizes
constexpr int kMaxLabels = 65535;        // label PNGs are 16-bit

std::vector<std::string> read_labels(const nlohmann::json& config, const std::string& path) {
  const nlohmann::json* id2label = json_field(&config, "id2label");
  if (!id2label) fail(path, "\"id2label\" is missing (the class names)");
  if (!id2label->is_object()) fail(path, "\"id2label\" must be an object of id: name");
  if (id2label->size() > static_cast<size_t>(kMaxLabels))
    fail(path, "\"id2label\" has " + std::to_string(id2label->size()) + " classes; segkit handles at most " +
                   std::to_string(kMaxLabels));
  std::vector<std::string> labels(id2label->size());
  std::vector<bool> seen(labels.size(), false);
  for (const auto& [key, value] : id2label->items()) {
    size_t used = 0;
    long id = -1;
    try {
      id = std::stol(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || id < 0 || id >= static_cast<long>(labels.size()) || seen[id])
      fail(path, "\"id2label\" key " + nlohmann::json(key).dump() + " is not one of the ids 0.." +
                     std::to_string(labels.size() - 1) + " (each once)");
    if (!value.is_string()) fail(path, "\"id2label\" entry " + nlohmann::json(key).dump() + " must be a string");
    labels[id] = value.get<std::string>();
    seen[id] = true;
  }
  if (labels.empty()) fail(path, "\"id2label\" is empty");
  return labels;
}

}  // namespace

Mask2FormerConfig parse_config(const nlohmann::json& config, const std::string& path) {
  if (!config.is_object()) fail(path, "not a JSON object");
  Mask2FormerConfig c;
  const nlohmann::json* backbone = json_field(&config, "backbone_config");
  if (!backbone) fail(path, "\"backbone_config\" is missing (segkit runs Mask2Former with a Swin backbone)");
  const nlohmann::json* type = json_field(backbone, "model_type");
  if (!type || !type->is_string() || type->get<std::string>() != "swin")
    fail(path, "backbone_config.model_type is " + (type ? type->dump() : std::string("missing")) +
                   "; segkit runs Mask2Former with a Swin backbone (\"swin\")");
  const std::string bpath = path + " backbone_config";
  read_optional(backbone, bpath, "embed_dim", c.embed_dim, 1, kMaxWidth);
  read_optional(backbone, bpath, "depths", c.depths, 1, kMaxCount);
  read_optional(backbone, bpath, "num_heads", c.num_heads, 1, kMaxCount);
  read_optional(backbone, bpath, "window_size", c.window_size, 1, kMaxCount);
  read_optional(backbone, bpath, "patch_size", c.patch_size, 1, 64);
  read_optional(backbone, bpath, "mlp_ratio", c.mlp_ratio);
  read_optional(backbone, bpath, "layer_norm_eps", c.layer_norm_eps);
  if (c.depths.size() != 4 || c.num_heads.size() != 4)
    fail(bpath, "\"depths\" and \"num_heads\" must list 4 stages (Mask2Former uses all four)");
  for (int s = 0; s < 4; ++s)
    if ((static_cast<int64_t>(c.embed_dim) << s) % c.num_heads[s] != 0)
      fail(bpath, "stage " + std::to_string(s + 1) + " width " + std::to_string(c.embed_dim << s) +
                      " is not divisible by its " + std::to_string(c.num_heads[s]) + " heads");
  if (!(c.mlp_ratio > 0 && c.mlp_ratio <= 64)) fail(bpath, "\"mlp_ratio\" must be in (0, 64]");
  if (!(c.layer_norm_eps > 0 && c.layer_norm_eps < 1)) fail(bpath, "\"layer_norm_eps\" must be in (0, 1)");
  if (const nlohmann::json* abs_pos = json_field(backbone, "use_absolute_embeddings"))
    if (!abs_pos->is_boolean() || abs_pos->get<bool>())
      fail(bpath, "\"use_absolute_embeddings\" must be false (Mask2Former's Swin has none)");

  read_optional(&config, path, "hidden_dim", c.hidden_dim, 1, kMaxWidth);
  read_optional(&config, path, "mask_feature_size", c.mask_feature_size, 1, kMaxWidth);
  read_optional(&config, path, "encoder_layers", c.encoder_layers, 1, kMaxCount);
  read_optional(&config, path, "encoder_feedforward_dim", c.encoder_feedforward_dim, 1, kMaxWidth * 8);
  read_optional(&config, path, "decoder_layers", c.decoder_layers, 1, kMaxCount);
  read_optional(&config, path, "num_attention_heads", c.num_attention_heads, 1, kMaxCount);
  read_optional(&config, path, "dim_feedforward", c.dim_feedforward, 1, kMaxWidth * 8);
  read_optional(&config, path, "num_queries", c.num_queries, 1, kMaxCount);
  read_optional(&config, path, "common_stride", c.common_stride, 4, 4);
  int feature_size = c.hidden_dim;
  read_optional(&config, path, "feature_size", feature_size, 1, kMaxWidth);
  // transformers keeps the decoder's input projections in a plain list (never loaded), so they
  // are identities only when the two widths agree: the only configuration it runs correctly.
  if (feature_size != c.hidden_dim)
    fail(path, "\"feature_size\" " + std::to_string(feature_size) + " differs from \"hidden_dim\" " +
                   std::to_string(c.hidden_dim) + "; segkit (as transformers) needs them equal");
  if (c.hidden_dim % c.num_attention_heads != 0 || c.hidden_dim % 2 != 0)
    fail(path, "\"hidden_dim\" must be even and divisible by \"num_attention_heads\"");
  if (c.hidden_dim % 32 != 0) fail(path, "\"hidden_dim\" must be a multiple of 32 (group norms of 32 groups)");
  if (c.mask_feature_size != c.hidden_dim)
    fail(path, "\"mask_feature_size\" must equal \"hidden_dim\" (" + std::to_string(c.hidden_dim) + ")");
  if (const nlohmann::json* act = json_field(&config, "activation_function"))
    if (!act->is_string() || act->get<std::string>() != "relu")
      fail(path, "\"activation_function\" must be \"relu\"");
  if (const nlohmann::json* pre_norm = json_field(&config, "pre_norm"))
    if (!pre_norm->is_boolean() || pre_norm->get<bool>()) fail(path, "\"pre_norm\" true is not supported");
  c.labels = read_labels(config, path);
  return c;
}

Mask2FormerProcessorConfig parse_processor_config(const nlohmann::json& config, const std::string& path) {
  Mask2FormerProcessorConfig p;
  if (path.empty()) return p;
  if (!config.is_object()) fail(path, "not a JSON object");
  auto read_bool = [&](const char* key, bool& out) {
    if (const nlohmann::json* v = json_field(&config, key)) {
      if (!v->is_boolean()) fail(path, std::string("\"") + key + "\" must be true or false");
      out = v->get<bool>();
    }
  };
  read_bool("do_resize", p.do_resize);
  read_bool("do_rescale", p.do_rescale);
  read_bool("do_normalize", p.do_normalize);
  read_optional(&config, path, "rescale_factor", p.rescale_factor);
  // Older files spell it size_divisibility.
  read_optional(&config, path, "size_divisibility", p.size_divisor, 0, 1024);
  read_optional(&config, path, "size_divisor", p.size_divisor, 0, 1024);
  if (const nlohmann::json* size = json_field(&config, "size")) {
    if (size->is_number_integer()) {
      // An integer size is the shortest edge (transformers' legacy form; longest edge 1333).
      p.height = p.width = 0;
      read_optional(&config, path, "size", p.shortest_edge, 1, 1 << 15);
      p.longest_edge = 1333;
      read_optional(&config, path, "max_size", p.longest_edge, 1, 1 << 15);
    } else if (size->is_object() && size->contains("height")) {
      read_required(*size, path + " size", "height", p.height, 1, 1 << 15);
      read_required(*size, path + " size", "width", p.width, 1, 1 << 15);
    } else if (size->is_object() && size->contains("shortest_edge")) {
      p.height = p.width = 0;
      read_required(*size, path + " size", "shortest_edge", p.shortest_edge, 1, 1 << 15);
      p.longest_edge = 1333;
      read_optional(size, path + " size", "longest_edge", p.longest_edge, 1, 1 << 15);
    } else {
      fail(path, "\"size\" must be {\"height\", \"width\"}, {\"shortest_edge\", \"longest_edge\"} or an integer");
    }
  }
  read_optional(&config, path, "image_mean", p.image_mean);
  read_optional(&config, path, "image_std", p.image_std);
  if (p.image_mean.size() != 3 || p.image_std.size() != 3)
    fail(path, "\"image_mean\" and \"image_std\" must have 3 values");
  for (float s : p.image_std)
    if (!(s > 0)) fail(path, "\"image_std\" values must be positive");
  if (const nlohmann::json* resample = json_field(&config, "resample"))
    if (!resample->is_number_integer() || resample->get<int64_t>() != 2)
      fail(path, "\"resample\" must be 2 (bilinear), the only resampling segkit implements for Mask2Former");
  return p;
}

}  // namespace segkit::mask2former
