#include "models/sam3/random_checkpoint.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/json_read.h"
#include "core/splitmix64.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "text/unicode.h"

namespace segkit::sam3 {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void linear(Shapes& s, const std::string& name, int64_t out, int64_t in, bool bias = true) {
  s[name + ".weight"] = {out, in};
  if (bias) s[name + ".bias"] = {out};
}

void norm(Shapes& s, const std::string& name, int64_t width) {
  s[name + ".weight"] = {width};
  s[name + ".bias"] = {width};
}

void attention(Shapes& s, const std::string& name, int64_t width, const char* out = "o_proj") {
  for (const char* p : {"q_proj", "k_proj", "v_proj"}) linear(s, name + "." + p, width, width);
  linear(s, name + "." + out, width, width);
}

// Sam3DecoderMLP: layer1 … layerN.
void mlp(Shapes& s, const std::string& name, int64_t in, int64_t hidden, int64_t out, int layers) {
  for (int i = 0; i < layers; ++i)
    linear(s, name + ".layer" + std::to_string(i + 1), i + 1 == layers ? out : hidden, i == 0 ? in : hidden);
}

// The DETR encoder's and the geometry encoder's layer: self-attention, cross-attention, MLP.
void encoder_layer(Shapes& s, const std::string& name, int64_t width, int64_t hidden) {
  for (const char* n : {"layer_norm1", "layer_norm2", "layer_norm3"}) norm(s, name + "." + n, width);
  attention(s, name + ".self_attn", width);
  attention(s, name + ".cross_attn", width);
  linear(s, name + ".mlp.fc1", hidden, width);
  linear(s, name + ".mlp.fc2", width, hidden);
}

const char* act_name(DetrActivation a) { return a == DetrActivation::Relu ? "relu" : "gelu"; }

nlohmann::json detr_block(const char* model_type, int hidden, int layers, int heads, int intermediate,
                          DetrActivation act) {
  return {{"model_type", model_type},   {"hidden_size", hidden}, {"num_layers", layers},
          {"num_attention_heads", heads}, {"intermediate_size", intermediate}, {"hidden_act", act_name(act)},
          {"dropout", 0.1},              {"hidden_dropout", 0.0}, {"layer_norm_eps", 1e-6},
          {"initializer_range", 0.02}};
}

// Learned embeddings, tokens and query tables enter the network as they are: standard deviation 1.
bool is_embedding(const std::string& name) {
  for (const char* e : {"position_embeddings", "position_embedding.weight", "token_embedding.weight", "query_embed.weight",
                        "reference_points.weight", "presence_token.weight", "label_embed.weight", "cls_embed.weight"})
    if (ends_with(name, e)) return true;
  return false;
}

// Standard deviation and mean of a tensor's values: matrices and kernels scaled by 1/√fan-in so
// that each layer's output is O(1); norm scales near 1; biases small but not zero.
std::pair<float, float> std_and_mean(const std::string& name, const std::vector<int64_t>& shape) {
  if (is_embedding(name)) return {1.0f, 0.0f};
  if (shape.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    // The neck's transposed convolutions (in × out × 2 × 2, stride 2): each output sums `in` inputs.
    if (name.find(".scale_layers.") != std::string::npos) fan_in = shape[0];
    return {1.0f / std::sqrt(static_cast<float>(fan_in)), 0.0f};
  }
  if (ends_with(name, ".weight")) return {0.1f, 1.0f};  // LayerNorm / GroupNorm scale
  return {0.1f, 0.0f};
}

// GPT-2's reversible map from bytes to printable code points, in the order of its table:
// printable Latin-1 bytes stand for themselves, the rest move to U+0100 onwards.
std::vector<std::string> byte_symbols_in_vocab_order() {
  auto printable = [](int x) { return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF); };
  std::vector<std::string> out;
  for (int b = 0; b < 256; ++b)
    if (printable(b)) text::append_utf8(out.emplace_back(), static_cast<char32_t>(b));
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (!printable(b)) text::append_utf8(out.emplace_back(), static_cast<char32_t>(256 + n++));
  return out;
}

// Streams a safetensors file: the header from the shapes, then each tensor generated into one
// reused buffer and written, so memory stays at the largest tensor.
void write_random_safetensors(const std::string& path, const Shapes& shapes, const std::string& prefix, uint64_t seed) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  size_t largest = 0;
  for (const auto& [name, shape] : shapes) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    header[prefix + name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
    largest = std::max<size_t>(largest, n);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(path, std::string("cannot write: ") + std::strerror(errno));
    const uint64_t len = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(len >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    SplitMix64 rng{seed};
    std::vector<float> buffer(largest);
    for (const auto& [name, shape] : shapes) {
      size_t n = 1;
      for (int64_t d : shape) n *= static_cast<size_t>(d);
      const auto [std_dev, mean] = std_and_mean(name, shape);
      const float half_width = std_dev * std::sqrt(3.0f);  // uniform with this standard deviation
      for (size_t i = 0; i < n; ++i) buffer[i] = mean + rng.uniform(half_width);
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(n * sizeof(float)));
      if (!out) fail(path, "cannot write (disk full?)");
    }
    out.flush();
    if (!out) fail(path, "cannot write (disk full?)");
  });
}

}  // namespace

nlohmann::json config_json(const Sam3Config& c) {
  const ViTConfig& v = c.vision.backbone;
  const int g = v.grid_size();
  nlohmann::json sizes = nlohmann::json::array();
  for (int f : {4, 2, 1}) sizes.push_back({f * g, f * g});
  const nlohmann::json backbone = {{"model_type", "sam3_vit_model"},
                                   {"hidden_size", v.hidden_size},
                                   {"intermediate_size", v.intermediate_size},
                                   {"num_hidden_layers", v.num_hidden_layers},
                                   {"num_attention_heads", v.num_attention_heads},
                                   {"num_channels", v.num_channels},
                                   {"image_size", v.image_size},
                                   {"patch_size", v.patch_size},
                                   {"pretrain_image_size", v.pretrain_image_size},
                                   {"window_size", v.window_size},
                                   {"global_attn_indexes", v.global_attn_indexes},
                                   {"rope_parameters", {{"rope_theta", v.rope_theta}, {"rope_type", "axial"}}},
                                   {"hidden_act", "gelu"},
                                   {"layer_norm_eps", v.layer_norm_eps},
                                   {"layer_scale_init_value", nullptr},
                                   {"attention_dropout", 0.0},
                                   {"hidden_dropout", 0.0},
                                   {"initializer_range", 0.02}};
  const TextEncoderConfig& t = c.text;
  const nlohmann::json text = {{"model_type", "clip_text_model"},
                               {"vocab_size", t.vocab_size},
                               {"hidden_size", t.hidden_size},
                               {"intermediate_size", t.intermediate_size},
                               {"projection_dim", t.projection_dim},
                               {"num_hidden_layers", t.num_layers},
                               {"num_attention_heads", t.num_heads},
                               {"max_position_embeddings", t.max_position_embeddings},
                               {"hidden_act", t.hidden_act == TextActivation::Gelu ? "gelu" : "quick_gelu"},
                               {"layer_norm_eps", t.layer_norm_eps},
                               {"bos_token_id", t.bos_token_id},
                               {"eos_token_id", t.eos_token_id},
                               {"pad_token_id", t.pad_token_id},
                               {"attention_dropout", 0.0},
                               {"initializer_factor", 1.0},
                               {"initializer_range", 0.02}};
  const GeometryEncoderConfig& ge = c.geometry;
  nlohmann::json geometry = detr_block("sam3_geometry_encoder", ge.hidden_size, ge.num_layers, ge.num_heads,
                                       ge.intermediate_size, ge.hidden_act);
  geometry["roi_size"] = ge.roi_size;
  const DetrEncoderConfig& de = c.detr_encoder;
  const DetrDecoderConfig& dd = c.detr_decoder;
  nlohmann::json decoder =
      detr_block("sam3_detr_decoder", dd.hidden_size, dd.num_layers, dd.num_heads, dd.intermediate_size, dd.hidden_act);
  decoder["num_queries"] = dd.num_queries;
  const MaskDecoderConfig& md = c.mask_decoder;
  return {{"architectures", {"Sam3Model"}},
          {"model_type", "sam3"},
          {"dtype", "float32"},
          {"initializer_range", 0.02},
          {"vision_config",
           {{"model_type", "sam3_vision_model"},
            {"backbone_config", backbone},
            {"fpn_hidden_size", c.vision.fpn_hidden_size},
            {"backbone_feature_sizes", sizes},
            {"scale_factors", c.vision.scale_factors},
            {"hidden_act", "gelu"},
            {"layer_norm_eps", 1e-6},
            {"initializer_range", 0.02}}},
          {"text_config", text},
          {"geometry_encoder_config", geometry},
          {"detr_encoder_config", detr_block("sam3_detr_encoder", de.hidden_size, de.num_layers, de.num_heads,
                                             de.intermediate_size, de.hidden_act)},
          {"detr_decoder_config", decoder},
          {"mask_decoder_config",
           {{"model_type", "sam3_mask_decoder"},
            {"hidden_size", md.hidden_size},
            {"num_upsampling_stages", md.num_upsampling_stages},
            {"num_attention_heads", md.num_attention_heads},
            {"layer_norm_eps", 1e-6},
            {"dropout", 0.0},
            {"initializer_range", 0.02}}}};
}

nlohmann::json processor_config_json(const Sam3Config& config) {
  const ProcessorConfig p;
  const int side = config.vision.backbone.image_size, mask = 4 * config.vision.backbone.grid_size();
  return {{"image_processor",
           {{"image_processor_type", "Sam3ImageProcessor"},
            {"do_convert_rgb", p.do_convert_rgb},
            {"do_resize", p.do_resize},
            {"do_rescale", p.do_rescale},
            {"do_normalize", p.do_normalize},
            {"image_mean", p.image_mean},
            {"image_std", p.image_std},
            {"rescale_factor", p.rescale_factor},
            {"resample", 2},
            {"size", {{"height", side}, {"width", side}}},
            {"mask_size", {{"height", mask}, {"width", mask}}}}},
          {"processor_class", "Sam3Processor"},
          {"point_pad_value", -10},
          {"target_size", side},
          {"segkit_note", "transformers' defaults for this input size, written by segkit dev-random-sam3"}};
}

Shapes model_shapes(const Sam3Config& config) {
  Shapes s = vision_encoder_shapes(config);

  const TextEncoderConfig& t = config.text;
  const std::string tm = "text_encoder.text_model.";
  s[tm + "embeddings.token_embedding.weight"] = {t.vocab_size, t.hidden_size};
  s[tm + "embeddings.position_embedding.weight"] = {t.max_position_embeddings, t.hidden_size};
  for (int i = 0; i < t.num_layers; ++i) {
    const std::string l = tm + "encoder.layers." + std::to_string(i);
    norm(s, l + ".layer_norm1", t.hidden_size);
    norm(s, l + ".layer_norm2", t.hidden_size);
    attention(s, l + ".self_attn", t.hidden_size, "out_proj");
    linear(s, l + ".mlp.fc1", t.intermediate_size, t.hidden_size);
    linear(s, l + ".mlp.fc2", t.hidden_size, t.intermediate_size);
  }
  norm(s, tm + "final_layer_norm", t.hidden_size);
  linear(s, "text_encoder.text_projection", t.projection_dim, t.hidden_size, /*bias=*/false);  // CLIP's own, unused
  linear(s, "text_projection", t.output_size, t.hidden_size);

  const GeometryEncoderConfig& ge = config.geometry;
  const int64_t d = ge.hidden_size;
  const std::string g = "geometry_encoder.";
  s[g + "label_embed.weight"] = {2, d};
  s[g + "cls_embed.weight"] = {1, d};
  linear(s, g + "boxes_direct_project", d, 4);
  s[g + "boxes_pool_project.weight"] = {d, d, ge.roi_size, ge.roi_size};
  s[g + "boxes_pool_project.bias"] = {d};
  linear(s, g + "boxes_pos_enc_project", d, d + 2);
  linear(s, g + "final_proj", d, d);
  for (const char* n : {"vision_layer_norm", "prompt_layer_norm", "output_layer_norm"}) norm(s, g + n, d);
  for (int i = 0; i < ge.num_layers; ++i) encoder_layer(s, g + "layers." + std::to_string(i), d, ge.intermediate_size);

  const DetrEncoderConfig& de = config.detr_encoder;
  for (int i = 0; i < de.num_layers; ++i)
    encoder_layer(s, "detr_encoder.layers." + std::to_string(i), de.hidden_size, de.intermediate_size);

  const DetrDecoderConfig& dd = config.detr_decoder;
  const int64_t h = dd.hidden_size;
  const std::string dec = "detr_decoder.";
  for (int i = 0; i < dd.num_layers; ++i) {
    const std::string l = dec + "layers." + std::to_string(i) + ".";
    for (const char* a : {"self_attn", "text_cross_attn", "vision_cross_attn"}) {
      attention(s, l + a, h);
      norm(s, l + a + "_layer_norm", h);
    }
    norm(s, l + "mlp_layer_norm", h);
    linear(s, l + "mlp.fc1", dd.intermediate_size, h);
    linear(s, l + "mlp.fc2", h, dd.intermediate_size);
  }
  norm(s, dec + "output_layer_norm", h);
  norm(s, dec + "presence_layer_norm", h);
  mlp(s, dec + "box_head", h, h, 4, 3);
  mlp(s, dec + "presence_head", h, h, 1, 3);
  mlp(s, dec + "ref_point_head", 2 * h, h, h, 2);
  mlp(s, dec + "box_rpb_embed_x", 2, h, dd.num_heads, 2);
  mlp(s, dec + "box_rpb_embed_y", 2, h, dd.num_heads, 2);
  s[dec + "query_embed.weight"] = {dd.num_queries, h};
  s[dec + "reference_points.weight"] = {dd.num_queries, 4};
  s[dec + "presence_token.weight"] = {1, h};

  const std::string sc = "dot_product_scoring.";
  mlp(s, sc + "text_mlp", h, dd.intermediate_size, h, 2);
  norm(s, sc + "text_mlp_out_norm", h);
  linear(s, sc + "text_proj", h, h);
  linear(s, sc + "query_proj", h, h);

  const MaskDecoderConfig& md = config.mask_decoder;
  const int64_t m = md.hidden_size;
  const std::string mk = "mask_decoder.";
  norm(s, mk + "prompt_cross_attn_norm", m);
  attention(s, mk + "prompt_cross_attn", m);
  for (int i = 0; i < md.num_upsampling_stages; ++i) {
    const std::string k = std::to_string(i);
    s[mk + "pixel_decoder.conv_layers." + k + ".weight"] = {m, m, 3, 3};
    s[mk + "pixel_decoder.conv_layers." + k + ".bias"] = {m};
    norm(s, mk + "pixel_decoder.norms." + k, m);
  }
  for (int i = 0; i < 3; ++i) linear(s, mk + "mask_embedder.layers." + std::to_string(i), m, m);
  s[mk + "instance_projection.weight"] = {m, m, 1, 1};
  s[mk + "instance_projection.bias"] = {m};
  s[mk + "semantic_projection.weight"] = {1, m, 1, 1};
  s[mk + "semantic_projection.bias"] = {1};
  return s;
}

ClipVocabFiles synthetic_clip_vocab(int64_t vocab_size) {
  constexpr int64_t kFixed = 256 + 256 + 2;
  if (vocab_size < kFixed)
    fail("text_config", "\"vocab_size\" " + std::to_string(vocab_size) + " is below the " + std::to_string(kFixed) +
                            " ids of a CLIP vocabulary's bytes, their \"</w>\" forms and its two special tokens");
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  int64_t next_id = 0;
  const std::vector<std::string> bytes = byte_symbols_in_vocab_order();
  for (const std::string& b : bytes) vocab[b] = next_id++;
  for (const std::string& b : bytes) vocab[b + "</w>"] = next_id++;

  // Merges of lowercase letter strings, breadth first: every stem (a string of letters, first
  // the single letters) joined with each letter, ending a word or not; the new plain strings
  // are the next stems.
  const int64_t merges = vocab_size - kFixed;
  std::string merges_txt = "#version: 0.2\n";
  std::vector<std::string> stems;
  for (char c = 'a'; c <= 'z'; ++c) stems.emplace_back(1, c);
  int64_t made = 0;
  for (size_t i = 0; made < merges; ++i) {
    const std::string stem = stems[i];  // a copy: stems grows below
    for (char c = 'a'; c <= 'z' && made < merges; ++c) {
      for (const char* end : {"", "</w>"}) {
        if (made == merges) break;
        const std::string right = std::string(1, c) + end;
        merges_txt += stem + " " + right + "\n";
        vocab[stem + right] = next_id++;
        ++made;
        if (*end == '\0') stems.push_back(stem + right);
      }
    }
  }
  vocab["<|startoftext|>"] = next_id++;
  vocab["<|endoftext|>"] = next_id++;
  return {vocab.dump(), merges_txt};
}

void write_random_checkpoint(const std::string& folder, const std::string& config_path, uint64_t seed) {
  namespace fs = std::filesystem;
  nlohmann::json config_file;
  Sam3Config config;
  nlohmann::json processor = nullptr;
  if (config_path.empty()) {
    config_file = config_json(config);
    config = parse_config(config_file, "config.json");  // what a reader of the written file gets
  } else {
    config_file = read_json_file(config_path, JsonLimits::config());
    // parse_config takes a file without model_type for a wrapped detector config, and one
    // without any block for the defaults: here that is more likely the wrong file.
    if (!config_file.is_object() || !config_file.contains("model_type"))
      fail(config_path, "no \"model_type\" (expected \"sam3\" or \"sam3_video\"); leave out --config for the released configuration");
    config = parse_config(config_file, config_path);
    const std::string beside = (fs::path(config_path).parent_path() / "processor_config.json").string();
    if (fs::is_regular_file(beside)) {
      processor = read_json_file(beside, JsonLimits::config());
      parse_processor_config(processor, beside);  // refuse what the model could not load
    }
  }
  if (processor.is_null()) processor = processor_config_json(config);
  const ClipVocabFiles vocab = synthetic_clip_vocab(config.text.vocab_size);
  if (fs::exists(fs::path(folder) / "tokenizer.json"))
    fail(folder, "holds a tokenizer.json, which SAM 3 would read instead of the synthetic vocab.json + merges.txt; "
                 "write into an empty folder");

  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail(folder, "cannot create folder: " + ec.message());
  write_random_safetensors(folder + "/model.safetensors", model_shapes(config), config.weight_prefix, seed);
  write_text_atomically(folder + "/config.json", config_file.dump(2) + "\n");
  write_text_atomically(folder + "/processor_config.json", processor.dump(2) + "\n");
  write_text_atomically(folder + "/vocab.json", vocab.vocab_json);
  write_text_atomically(folder + "/merges.txt", vocab.merges_txt);
}

}  // namespace segkit::sam3
