#include "models/sam3/detr_config.h"

#include <cstdint>

#include "core/json_fields.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxCount = 1 << 12;
constexpr int64_t kMaxQueries = 1 << 16;

const nlohmann::json* sub_object(const nlohmann::json* parent, const std::string& context, const char* key) {
  const nlohmann::json* v = json_field(parent, key);
  if (v && !v->is_object()) fail(context, std::string("\"") + key + "\" must be an object");
  return v;
}

void read_activation(const nlohmann::json* block, const std::string& context, DetrActivation& out) {
  const nlohmann::json* act = json_field(block, "hidden_act");
  if (!act) return;
  const std::string name = act->is_string() ? act->get<std::string>() : act->dump();
  if (name == "relu") out = DetrActivation::Relu;
  else if (name == "gelu") out = DetrActivation::Gelu;
  else fail(context, "\"hidden_act\" is " + act->dump() + "; segkit runs \"relu\" (SAM 3's) and \"gelu\"");
}

void check_heads(const std::string& context, int width, int heads) {
  if (width % heads != 0)
    fail(context, "\"hidden_size\" " + std::to_string(width) + " is not divisible by \"num_attention_heads\" " +
                      std::to_string(heads));
}

}  // namespace

DetrConfig parse_detr_config(const nlohmann::json& root_config, const std::string& file) {
  if (!root_config.is_object()) fail(file, "not a JSON object");
  std::string context = file;
  const nlohmann::json* sam3 = &root_config;
  if (const nlohmann::json* detector = sub_object(&root_config, file, "detector_config")) {
    sam3 = detector;
    context = file + " detector_config";
  }

  DetrConfig c;
  const std::string ec = context + " detr_encoder_config";
  if (const nlohmann::json* e = sub_object(sam3, context, "detr_encoder_config")) {
    read_optional(e, ec, "hidden_size", c.encoder.hidden_size, 1, kMaxWidth);
    read_optional(e, ec, "num_layers", c.encoder.num_layers, 1, kMaxCount);
    read_optional(e, ec, "num_attention_heads", c.encoder.num_heads, 1, kMaxCount);
    read_optional(e, ec, "intermediate_size", c.encoder.intermediate_size, 1, kMaxWidth * 8);
    read_activation(e, ec, c.encoder.hidden_act);
  }
  check_heads(ec, c.encoder.hidden_size, c.encoder.num_heads);

  const std::string dc = context + " detr_decoder_config";
  if (const nlohmann::json* d = sub_object(sam3, context, "detr_decoder_config")) {
    read_optional(d, dc, "hidden_size", c.decoder.hidden_size, 1, kMaxWidth);
    read_optional(d, dc, "num_layers", c.decoder.num_layers, 1, kMaxCount);
    read_optional(d, dc, "num_queries", c.decoder.num_queries, 1, kMaxQueries);
    read_optional(d, dc, "num_attention_heads", c.decoder.num_heads, 1, kMaxCount);
    read_optional(d, dc, "intermediate_size", c.decoder.intermediate_size, 1, kMaxWidth * 8);
    read_activation(d, dc, c.decoder.hidden_act);
  }
  check_heads(dc, c.decoder.hidden_size, c.decoder.num_heads);
  // The query position encoding spends hidden_size / 2 sine features on each box coordinate.
  if (c.decoder.hidden_size % 2 != 0)
    fail(dc, "\"hidden_size\" " + std::to_string(c.decoder.hidden_size) + " must be even");
  // The decoder attends to the encoder's memory and to the same prompt tokens.
  if (c.decoder.hidden_size != c.encoder.hidden_size)
    fail(dc, "\"hidden_size\" " + std::to_string(c.decoder.hidden_size) + " differs from detr_encoder_config's " +
                 std::to_string(c.encoder.hidden_size));

  const std::string gc = context + " geometry_encoder_config";
  if (const nlohmann::json* g = sub_object(sam3, context, "geometry_encoder_config")) {
    read_optional(g, gc, "hidden_size", c.geometry.hidden_size, 1, kMaxWidth);
    read_optional(g, gc, "num_layers", c.geometry.num_layers, 1, kMaxCount);
    read_optional(g, gc, "num_attention_heads", c.geometry.num_heads, 1, kMaxCount);
    read_optional(g, gc, "intermediate_size", c.geometry.intermediate_size, 1, kMaxWidth * 8);
    read_optional(g, gc, "roi_size", c.geometry.roi_size, 1, kMaxCount);
    read_activation(g, gc, c.geometry.hidden_act);
  }
  check_heads(gc, c.geometry.hidden_size, c.geometry.num_heads);
  // Box centres get hidden_size / 2 sine features per axis.
  if (c.geometry.hidden_size % 2 != 0)
    fail(gc, "\"hidden_size\" " + std::to_string(c.geometry.hidden_size) + " must be even");
  // Geometry tokens are appended to the projected text: one prompt, one width.
  if (c.geometry.hidden_size != c.encoder.hidden_size)
    fail(gc, "\"hidden_size\" " + std::to_string(c.geometry.hidden_size) + " differs from detr_encoder_config's " +
                 std::to_string(c.encoder.hidden_size));
  return c;
}

}  // namespace segkit::sam3
