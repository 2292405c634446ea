// Telling a segkit U-Net checkpoint by the configuration it carries, and describing it from that
// configuration without building the network.
#include "models/unet/family.h"

#include <filesystem>

#include "core/json_read.h"
#include "models/device.h"
#include "models/registry.h"
#include "segkit/error.h"

namespace segkit::unet {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string sidecar_path(const std::string& weights) {
  std::filesystem::path p(weights);
  return p.replace_extension(".json").string();
}

CheckpointDescription read_description(const std::string& path, const std::map<std::string, std::string>& meta) {
  CheckpointDescription d;
  if (meta.count(kConfigKey)) {
    d.json["config"] = parse_json(meta.at(kConfigKey), path + ": " + kConfigKey, JsonLimits::config());
    d.from = std::string(kConfigKey) + " metadata";
  } else if (meta.count(kEnsembleKey)) {
    d.json["ensemble"] = parse_json(meta.at(kEnsembleKey), path + ": " + kEnsembleKey, JsonLimits::config());
    d.from = std::string(kEnsembleKey) + " metadata";
  } else {
    const std::string side = sidecar_path(path);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(side, ec)) return d;
    d.json = read_json_file(side, JsonLimits::config());
    d.from = "side file " + std::filesystem::path(side).filename().string();
  }
  return d;
}

bool is_parameter(const std::string& name) { return !ends_with(name, ".running_mean") && !ends_with(name, ".running_var"); }

std::string architecture_name(const UNetConfig& c) {
  return "unet depth " + std::to_string(c.depth) + " width " + std::to_string(c.width) + " (" +
         std::to_string(c.in_channels) + (c.in_channels == 1 ? " input channel, " : " input channels, ") +
         std::to_string(c.classes) + " classes" + (c.batch_norm ? ", batch norm" : "") +
         (c.upsample == UNetUpsample::Transpose ? ", transpose" : ", bilinear") +
         (c.padding == UNetPadding::Same ? ", same padding)" : ", valid padding)");
}

std::string architecture_name(const UNetConfig& first, int members) {
  if (members <= 1) return architecture_name(first);
  return "unet ensemble of " + std::to_string(members) + " networks, the first " + architecture_name(first);
}

std::string detect(const models::CheckpointIndex& index) {
  if (index.location.format != WeightsFormat::Safetensors) return "";
  if (index.metadata.count(kConfigKey) || index.metadata.count(kEnsembleKey))
    return (index.metadata.count(kConfigKey) ? kConfigKey : kEnsembleKey) + std::string(" metadata");
  // A side file of another program is not ours: only a U-Net config there counts.
  try {
    const nlohmann::json side = read_description(index.location.weights, index.metadata).json;
    if (!side.is_object()) return "";
    nlohmann::json config = side.value("config", nlohmann::json());
    const nlohmann::json members = side.value("ensemble", nlohmann::json());
    if (members.is_array() && !members.empty()) config = members[0];
    if (config.is_object() && config.value("architecture", nlohmann::json()) == "unet")
      return "side file " + std::filesystem::path(sidecar_path(index.location.weights)).filename().string();
  } catch (const Error&) {
  }
  return "";
}

void describe(const models::CheckpointIndex& index, ModelInfo& info) {
  const std::string& path = index.location.weights;
  const CheckpointDescription d = read_description(path, index.metadata);
  if (!d.json.is_object()) fail(path, "no U-Net config (neither metadata nor " + sidecar_path(path) + ")");
  if (d.json.contains("config")) {
    info.architecture = architecture_name(UNetConfig::from_json(d.json["config"].dump(), path));
  } else {
    const nlohmann::json configs = d.json.value("ensemble", nlohmann::json());
    if (!configs.is_array() || configs.empty()) fail(path, "no U-Net config ('config' or a non-empty 'ensemble' list)");
    info.architecture = architecture_name(UNetConfig::from_json(configs[0].dump(), path), static_cast<int>(configs.size()));
  }
  info.parameter_count = index.float_elements(is_parameter);
  info.precisions = {"fp32"};
}

std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options) {
  models::require_cpu_device(options.device, "U-Net");
  return UNetModel::load(info.weights);
}

}  // namespace segkit::unet
