#include "models/mask2former/checkpoint.h"

#include "checkpoints/float_tensors.h"
#include "segkit/error.h"

namespace segkit::mask2former {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
}

void linear(Shapes& s, const std::string& name, int64_t out, int64_t in, bool bias = true) {
  s[name + ".weight"] = {out, in};
  if (bias) s[name + ".bias"] = {out};
}

void norm(Shapes& s, const std::string& name, int64_t width) {
  s[name + ".weight"] = {width};
  s[name + ".bias"] = {width};
}

}  // namespace

Shapes expected_shapes(const Mask2FormerConfig& c) {
  Shapes s;
  const std::string enc = "model.pixel_level_module.encoder.";
  const int64_t C = c.embed_dim, ws = c.window_size;
  s[enc + "embeddings.patch_embeddings.projection.weight"] = {C, 3, c.patch_size, c.patch_size};
  s[enc + "embeddings.patch_embeddings.projection.bias"] = {C};
  norm(s, enc + "embeddings.norm", C);
  for (int st = 0; st < 4; ++st) {
    const int64_t w = C << st, mlp = static_cast<int64_t>(w * c.mlp_ratio);
    const std::string sp = enc + "encoder.layers." + std::to_string(st) + ".";
    for (int b = 0; b < c.depths[st]; ++b) {
      const std::string bp = sp + "blocks." + std::to_string(b) + ".";
      norm(s, bp + "layernorm_before", w);
      norm(s, bp + "layernorm_after", w);
      for (const char* p : {"query", "key", "value"}) linear(s, bp + "attention.self." + p, w, w);
      s[bp + "attention.self.relative_position_bias_table"] = {(2 * ws - 1) * (2 * ws - 1), c.num_heads[st]};
      linear(s, bp + "attention.output.dense", w, w);
      linear(s, bp + "intermediate.dense", mlp, w);
      linear(s, bp + "output.dense", w, mlp);
    }
    if (st < 3) {
      norm(s, sp + "downsample.norm", 4 * w);
      linear(s, sp + "downsample.reduction", 2 * w, 4 * w, false);
    }
    norm(s, enc + "hidden_states_norms.stage" + std::to_string(st + 1), w);
  }

  const std::string pix = "model.pixel_level_module.decoder.";
  const int64_t d = c.hidden_dim, heads = c.num_attention_heads, levels = 3, points = 4;
  for (int l = 0; l < levels; ++l) {
    const std::string p = pix + "input_projections." + std::to_string(l) + ".";
    s[p + "0.weight"] = {d, C << (3 - l), 1, 1};
    s[p + "0.bias"] = {d};
    norm(s, p + "1", d);
  }
  s[pix + "level_embed"] = {levels, d};
  for (int i = 0; i < c.encoder_layers; ++i) {
    const std::string p = pix + "encoder.layers." + std::to_string(i) + ".";
    linear(s, p + "self_attn.sampling_offsets", heads * levels * points * 2, d);
    linear(s, p + "self_attn.attention_weights", heads * levels * points, d);
    linear(s, p + "self_attn.value_proj", d, d);
    linear(s, p + "self_attn.output_proj", d, d);
    norm(s, p + "self_attn_layer_norm", d);
    linear(s, p + "fc1", c.encoder_feedforward_dim, d);
    linear(s, p + "fc2", d, c.encoder_feedforward_dim);
    norm(s, p + "final_layer_norm", d);
  }
  s[pix + "adapter_1.0.weight"] = {d, C, 1, 1};
  norm(s, pix + "adapter_1.1", d);
  s[pix + "layer_1.0.weight"] = {d, d, 3, 3};
  norm(s, pix + "layer_1.1", d);
  s[pix + "mask_projection.weight"] = {c.mask_feature_size, d, 1, 1};
  s[pix + "mask_projection.bias"] = {c.mask_feature_size};

  const std::string tm = "model.transformer_module.";
  s[tm + "level_embed.weight"] = {levels, d};
  s[tm + "queries_embedder.weight"] = {c.num_queries, d};
  s[tm + "queries_features.weight"] = {c.num_queries, d};
  norm(s, tm + "decoder.layernorm", d);
  for (int i = 0; i + 1 < c.decoder_layers; ++i) {
    const std::string p = tm + "decoder.layers." + std::to_string(i) + ".";
    s[p + "cross_attn.in_proj_weight"] = {3 * d, d};
    s[p + "cross_attn.in_proj_bias"] = {3 * d};
    linear(s, p + "cross_attn.out_proj", d, d);
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(s, p + "self_attn." + n, d, d);
    for (const char* n : {"cross_attn_layer_norm", "self_attn_layer_norm", "final_layer_norm"}) norm(s, p + n, d);
    linear(s, p + "fc1", c.dim_feedforward, d);
    linear(s, p + "fc2", d, c.dim_feedforward);
  }
  for (int i = 0; i < 3; ++i)
    linear(s, tm + "decoder.mask_predictor.mask_embedder." + std::to_string(i) + ".0", i == 2 ? c.mask_feature_size : d, d);
  linear(s, "class_predictor", c.num_labels() + 1, d);
  return s;
}

std::string file_name_of(const std::string& name) {
  const std::string enc = "model.pixel_level_module.encoder.";
  if (!starts_with(name, enc)) return name;
  std::string n = name;
  if (starts_with(n, enc + "swin.")) n.erase(enc.size(), 5);
  replace_once(n, ".attention.q_proj.", ".attention.self.query.");
  replace_once(n, ".attention.k_proj.", ".attention.self.key.");
  replace_once(n, ".attention.v_proj.", ".attention.self.value.");
  replace_once(n, ".attention.relative_position_bias.relative_position_bias_table", ".attention.self.relative_position_bias_table");
  replace_once(n, ".attention.o_proj.", ".attention.output.dense.");
  replace_once(n, ".mlp.fc1.", ".intermediate.dense.");
  replace_once(n, ".mlp.fc2.", ".output.dense.");
  return n;
}

bool is_buffer(const std::string& name) {
  const std::string index = "relative_position_index";
  return name == "criterion.empty_weight" ||
         (name.size() >= index.size() && name.compare(name.size() - index.size(), index.size(), index) == 0);
}

bool is_unused_by_design(const std::string& name) {
  return is_buffer(name) || name == "model.pixel_level_module.encoder.layernorm.weight" ||
         name == "model.pixel_level_module.encoder.layernorm.bias";
}

LoadedWeights read_weights(const ModelLocation& files, const Mask2FormerConfig& config) {
  checkpoints::FloatTensors file = files.format == WeightsFormat::Safetensors
                                       ? checkpoints::read_safetensors_tensors(files.weights)
                                       : checkpoints::read_pth_tensors(files.weights);
  LoadedWeights loaded;
  loaded.weights = nn::WeightMap(files.weights);
  for (auto& [name, tensor] : file.tensors) loaded.weights.insert(file_name_of(name), std::move(tensor));
  loaded.backing_files = std::move(file.backing_files);
  const std::string head = "class_predictor.weight";
  if (loaded.weights.contains(head) && loaded.weights.get(head).dim() == 2 &&
      loaded.weights.get(head).size(0) != config.num_labels() + 1)
    fail(files.weights, "tensor '" + head + "' predicts " + std::to_string(loaded.weights.get(head).size(0) - 1) +
                            " classes, but config.json's id2label names " + std::to_string(config.num_labels()));
  for (const auto& [name, shape] : expected_shapes(config)) loaded.weights.get(name, shape);
  return loaded;
}

}  // namespace segkit::mask2former
