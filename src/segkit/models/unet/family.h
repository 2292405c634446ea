#pragma once
// U-Net as a model family of the registry (models/registry.h), and where a checkpoint keeps
// its configuration: as JSON in the safetensors metadata, or in a .json file beside it.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "segkit/model.h"
#include "segkit/unet.h"

namespace segkit::models {
struct CheckpointIndex;
}

namespace segkit::unet {

inline constexpr const char* kConfigKey = "segkit.unet.config";
inline constexpr const char* kEnsembleKey = "segkit.unet.ensemble";

// <path without extension>.json
std::string sidecar_path(const std::string& weights);

struct CheckpointDescription {
  nlohmann::json json;  // {"config": …} for one network, {"ensemble": [config, …]}; null when none
  std::string from;     // "segkit.unet.config metadata", "side file best.json"
};
// From the metadata, else the side file. Error naming the file for malformed JSON.
CheckpointDescription read_description(const std::string& weights, const std::map<std::string, std::string>& metadata);

std::string detect(const models::CheckpointIndex& index);
void describe(const models::CheckpointIndex& index, ModelInfo& info);
std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options);

// "unet depth 4 width 64 (1 input channel, 2 classes, batch norm, transpose, same padding)"
std::string architecture_name(const UNetConfig& config);
// Ensembles: "unet ensemble of 3 networks, the first unet depth 4 width 64 (...)"
std::string architecture_name(const UNetConfig& first, int members);
// Whether a stored tensor counts as a parameter (batch-norm running statistics do not).
bool is_parameter(const std::string& name);

}  // namespace segkit::unet
