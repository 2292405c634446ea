#include "models/mask2former/random_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/json_read.h"
#include "core/splitmix64.h"
#include "models/mask2former/checkpoint.h"
#include "models/mask2former/config.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/safetensors.h"

namespace segkit::mask2former {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Learned embeddings and bias tables enter the network as they are: standard deviation 1.
bool is_embedding(const std::string& name) {
  for (const char* e : {"relative_position_bias_table", "level_embed", "level_embed.weight", "queries_embedder.weight",
                        "queries_features.weight"})
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
    return {1.0f / std::sqrt(static_cast<float>(fan_in)), 0.0f};
  }
  if (ends_with(name, ".weight")) return {0.1f, 1.0f};  // LayerNorm / GroupNorm scale
  return {0.1f, 0.0f};
}

nlohmann::json default_processor_config() {
  const Mask2FormerProcessorConfig p;
  return {{"image_processor_type", "Mask2FormerImageProcessor"},
          {"do_resize", p.do_resize},
          {"size", {{"height", p.height}, {"width", p.width}}},
          {"size_divisor", p.size_divisor},
          {"resample", 2},
          {"do_rescale", p.do_rescale},
          {"rescale_factor", p.rescale_factor},
          {"do_normalize", p.do_normalize},
          {"image_mean", p.image_mean},
          {"image_std", p.image_std},
          {"segkit_note", "transformers' defaults, written by segkit dev-random-mask2former"}};
}

}  // namespace

void write_random_checkpoint(const std::string& folder, const std::string& config_path, uint64_t seed) {
  const nlohmann::json config_json = read_json_file(config_path, JsonLimits::config());
  const Mask2FormerConfig config = parse_config(config_json, config_path);
  const std::string processor_path = (std::filesystem::path(config_path).parent_path() / "preprocessor_config.json").string();
  nlohmann::json processor_json = default_processor_config();
  if (std::filesystem::is_regular_file(processor_path)) {
    processor_json = read_json_file(processor_path, JsonLimits::config());
    parse_processor_config(processor_json, processor_path);  // refuse what the model could not load
  }

  SplitMix64 rng{seed};
  const Shapes shapes = expected_shapes(config);
  std::vector<std::vector<float>> data;
  std::vector<TensorRef> refs;
  data.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const auto [std_dev, mean] = std_and_mean(name, shape);
    std::vector<float>& v = data.emplace_back(static_cast<size_t>(n));
    const float half_width = std_dev * std::sqrt(3.0f);  // uniform with this standard deviation
    for (float& x : v) x = mean + rng.uniform(half_width);
    refs.push_back({name, DType::F32, shape, v.data()});
  }

  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail(folder, "cannot create folder: " + ec.message());
  write_safetensors(folder + "/model.safetensors", refs, {{"format", "pt"}});
  write_text_atomically(folder + "/config.json", config_json.dump(2) + "\n");
  write_text_atomically(folder + "/preprocessor_config.json", processor_json.dump(2) + "\n");
}

}  // namespace segkit::mask2former
