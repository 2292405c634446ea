#include "models/sam3/checkpoint.h"

#include "checkpoints/float_tensors.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void linear(Shapes& s, const std::string& name, int64_t out, int64_t in) {
  s[name + ".weight"] = {out, in};
  s[name + ".bias"] = {out};
}

void norm(Shapes& s, const std::string& name, int64_t width) {
  s[name + ".weight"] = {width};
  s[name + ".bias"] = {width};
}

}  // namespace

Shapes vision_encoder_shapes(const Sam3Config& config) {
  Shapes s;
  const ViTConfig& c = config.vision.backbone;
  const int64_t C = c.hidden_size, p = c.patch_size, g = c.pretrain_grid_size(), fpn = config.vision.fpn_hidden_size;
  const std::string vit = "vision_encoder.backbone.";
  s[vit + "embeddings.patch_embeddings.projection.weight"] = {C, c.num_channels, p, p};
  s[vit + "embeddings.position_embeddings"] = {1, g * g, C};
  norm(s, vit + "layer_norm", C);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = vit + "layers." + std::to_string(i) + ".";
    norm(s, l + "layer_norm1", C);
    norm(s, l + "layer_norm2", C);
    for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) linear(s, l + "attention." + n, C, C);
    linear(s, l + "mlp.fc1", c.intermediate_size, C);
    linear(s, l + "mlp.fc2", C, c.intermediate_size);
  }
  for (size_t i = 0; i < config.vision.scale_factors.size(); ++i) {
    const double scale = config.vision.scale_factors[i];
    const std::string l = "vision_encoder.neck.fpn_layers." + std::to_string(i) + ".";
    int64_t channels = C;
    if (scale == 4.0 || scale == 2.0) {
      s[l + "scale_layers.0.weight"] = {C, C / 2, 2, 2};
      s[l + "scale_layers.0.bias"] = {C / 2};
      channels = C / 2;
    }
    if (scale == 4.0) {
      s[l + "scale_layers.2.weight"] = {C / 2, C / 4, 2, 2};
      s[l + "scale_layers.2.bias"] = {C / 4};
      channels = C / 4;
    }
    s[l + "proj1.weight"] = {fpn, channels, 1, 1};
    s[l + "proj1.bias"] = {fpn};
    s[l + "proj2.weight"] = {fpn, fpn, 3, 3};
    s[l + "proj2.bias"] = {fpn};
  }
  return s;
}

LoadedWeights read_weights(const std::string& path, const Sam3Config& config) {
  checkpoints::FloatTensors file = ends_with(path, ".safetensors") ? checkpoints::read_safetensors_tensors(path)
                                                                   : checkpoints::read_pth_tensors(path);
  LoadedWeights loaded;
  loaded.weights = nn::WeightMap(path);
  const std::string detector = "detector_model.";
  bool any_vision = false;
  for (auto& [name, tensor] : file.tensors) {
    // The video checkpoint's tracker (tracker_model.*, tracker_neck.*) is not part of the image model.
    if (starts_with(name, "tracker_model.") || starts_with(name, "tracker_neck.")) continue;
    // Stripped whatever config.json says: a plain Sam3Model saved with its base-model prefix has it too.
    const std::string key = starts_with(name, detector) ? name.substr(detector.size()) : name;
    any_vision = any_vision || starts_with(key, "vision_encoder.");
    loaded.weights.insert(key, std::move(tensor));
  }
  loaded.backing_files = std::move(file.backing_files);
  if (!any_vision) fail(path, "no 'vision_encoder.*' tensors (not a SAM 3 checkpoint in transformers' layout)");
  for (const auto& [name, shape] : vision_encoder_shapes(config)) loaded.weights.get(name, shape);
  return loaded;
}

}  // namespace segkit::sam3
