// UNetModel: creation, ensembles, and checkpoints as plain safetensors with PyTorch state-dict
// names.
#include <ATen/core/grad_mode.h>
#include <ATen/ops/from_blob.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "models/registry.h"
#include "models/unet/family.h"
#include "models/unet/model_impl.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace segkit {

namespace {
using unet::kConfigKey;
using unet::kEnsembleKey;
using unet::sidecar_path;

std::string member_prefix(size_t i) { return "members." + std::to_string(i) + "."; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

namespace unet {

std::vector<TensorRef> state_refs(const Network& network, const std::string& prefix) {
  std::vector<TensorRef> refs;
  for (const auto& t : network.state()) {
    const DType dtype = t.tensor.scalar_type() == at::kLong ? DType::I64 : DType::F32;
    refs.push_back({prefix + t.name, dtype, t.tensor.sizes().vec(), t.tensor.data_ptr()});
  }
  return refs;
}

void load_state(Network& network, const SafetensorsFile& file, const std::string& prefix, bool strict) {
  const std::string& path = file.path();
  size_t used = 0;
  at::NoGradGuard no_grad;
  for (auto& t : network.state()) {
    const std::string name = prefix + t.name;
    if (!file.contains(name))
      fail(path, "no tensor '" + name + "' (a checkpoint of another architecture?)");
    const TensorView& v = file.get(name);
    if (v.shape != t.tensor.sizes().vec())
      fail(path, "tensor '" + name + "' has shape " + shape_text(v.shape) + ", expected " +
                     shape_text(t.tensor.sizes().vec()) + " (a checkpoint of another architecture?)");
    if (t.tensor.scalar_type() == at::kLong) {
      if (v.dtype != DType::I64) fail(path, "tensor '" + name + "' must be I64");
      t.tensor.copy_(at::from_blob(const_cast<uint8_t*>(v.data), v.shape, at::kLong));
    } else {
      std::vector<float> values = file.to_float(name);
      t.tensor.copy_(at::from_blob(values.data(), v.shape, at::kFloat));
    }
    ++used;
  }
  if (strict) {
    size_t with_prefix = 0;
    for (const auto& n : file.names())
      if (n.compare(0, prefix.size(), prefix) == 0) ++with_prefix;
    if (with_prefix != used)
      fail(path, "holds " + std::to_string(with_prefix - used) + " tensors a " + network.config().describe() +
                     " does not have (a checkpoint of another architecture?)");
  }
}

}  // namespace unet

UNetModel::UNetModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UNetModel::~UNetModel() = default;

const UNetConfig& UNetModel::config() const { return impl_->config; }

std::string UNetModel::family() const { return "unet"; }

ModelInfo UNetModel::info() const {
  ModelInfo info;
  info.family = family();
  models::fill_family_fields(info);
  info.architecture = unet::architecture_name(impl_->config, member_count());
  info.parameter_count = parameter_count();
  info.precisions = {"fp32"};
  if (!impl_->path.empty()) {
    info.source = info.location = info.weights = impl_->path;
    info.found_as = "file";
  }
  return info;
}

int UNetModel::member_count() const { return static_cast<int>(impl_->members.size()); }

int64_t UNetModel::parameter_count() const {
  int64_t n = 0;
  for (const auto& member : impl_->members)
    for (const auto& t : member->state())
      if (t.trainable) n += t.tensor.numel();
  return n;
}

std::shared_ptr<UNetModel> UNetModel::create(const UNetConfig& config, uint64_t seed) {
  auto impl = std::make_unique<Impl>(config);
  impl->network().initialize(seed);
  return std::shared_ptr<UNetModel>(new UNetModel(std::move(impl)));
}

std::shared_ptr<UNetModel> UNetModel::ensemble(const std::vector<std::shared_ptr<const UNetModel>>& models) {
  if (models.empty()) fail("U-Net ensemble", "no members");
  const UNetConfig& first = models.front()->config();
  std::vector<std::shared_ptr<unet::Network>> networks;
  for (size_t i = 0; i < models.size(); ++i) {
    const UNetConfig& c = models[i]->config();
    if (c.in_channels != first.in_channels || c.classes != first.classes)
      fail("U-Net ensemble", "member " + std::to_string(i + 1) + " (" + c.describe() + ") does not take the input or give the classes of member 1 (" +
                                 first.describe() + ")");
    for (const auto& network : unet::Internals::of(*models[i]).members) networks.push_back(network);
  }
  return std::shared_ptr<UNetModel>(new UNetModel(std::make_unique<Impl>(first, std::move(networks))));
}

std::shared_ptr<UNetModel> UNetModel::load(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  // What the file holds: {"config": …} for one network, {"ensemble": [config, …]} for several.
  const nlohmann::json description = unet::read_description(path, file->metadata()).json;
  if (description.is_null())
    fail(path, "no U-Net config (neither '" + std::string(kConfigKey) + "' metadata nor " + sidecar_path(path) + ")");
  if (description.contains("config")) {
    auto impl = std::make_unique<Impl>(UNetConfig::from_json(description["config"].dump(), path));
    impl->path = path;
    unet::load_state(impl->network(), *file);
    return std::shared_ptr<UNetModel>(new UNetModel(std::move(impl)));
  }
  const nlohmann::json& configs = description.contains("ensemble") ? description["ensemble"] : nlohmann::json();
  if (!configs.is_array() || configs.empty()) fail(path, "no U-Net config ('config' or a non-empty 'ensemble' list)");
  std::vector<std::shared_ptr<const UNetModel>> members;
  size_t tensors = 0;
  for (size_t i = 0; i < configs.size(); ++i) {
    auto impl = std::make_unique<Impl>(UNetConfig::from_json(configs[i].dump(), path));
    unet::load_state(impl->network(), *file, member_prefix(i));
    tensors += impl->network().state().size();
    members.push_back(std::shared_ptr<UNetModel>(new UNetModel(std::move(impl))));
  }
  if (tensors != file->names().size())
    fail(path, "holds " + std::to_string(file->names().size() - tensors) + " tensors outside the ensemble's " +
                   std::to_string(configs.size()) + " members");
  auto model = ensemble(members);
  model->impl_->path = path;
  return model;
}

void UNetModel::save(const std::string& path, const std::string& extra_json) const {
  nlohmann::json side = parse_json(extra_json, "U-Net checkpoint information");
  if (impl_->members.size() == 1) {
    const std::string config = impl_->config.to_json();
    write_safetensors(path, unet::state_refs(impl_->network()), {{"format", "pt"}, {kConfigKey, config}});
    side["config"] = parse_json(config, "U-Net config");
  } else {
    // As a PyTorch nn.ModuleList named "members" would name them: members.0.encoder.0…
    nlohmann::json configs = nlohmann::json::array();
    std::vector<TensorRef> refs;
    for (size_t i = 0; i < impl_->members.size(); ++i) {
      configs.push_back(parse_json(impl_->members[i]->config().to_json(), "U-Net config"));
      for (auto& r : unet::state_refs(*impl_->members[i], member_prefix(i))) refs.push_back(std::move(r));
    }
    write_safetensors(path, refs, {{"format", "pt"}, {kEnsembleKey, configs.dump()}});
    side["ensemble"] = configs;
  }
  side["weights"] = std::filesystem::path(path).filename().string();
  write_text_atomically(sidecar_path(path), side.dump(2) + "\n");
}

}  // namespace segkit
