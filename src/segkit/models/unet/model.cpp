// UNetModel: creation, and checkpoints as plain safetensors with PyTorch state-dict names.
#include <ATen/core/grad_mode.h>
#include <ATen/ops/from_blob.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "segkit/models/unet/model_impl.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace segkit {

namespace {
constexpr const char* kConfigKey = "segkit.unet.config";

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string sidecar_path(const std::string& path) {
  std::filesystem::path p(path);
  return p.replace_extension(".json").string();
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

int64_t UNetModel::parameter_count() const {
  int64_t n = 0;
  for (const auto& t : impl_->network.state())
    if (t.trainable) n += t.tensor.numel();
  return n;
}

std::shared_ptr<UNetModel> UNetModel::create(const UNetConfig& config, uint64_t seed) {
  auto impl = std::make_unique<Impl>(config);
  impl->network.initialize(seed);
  return std::shared_ptr<UNetModel>(new UNetModel(std::move(impl)));
}

std::shared_ptr<UNetModel> UNetModel::load(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  std::string config_json;
  auto it = file->metadata().find(kConfigKey);
  if (it != file->metadata().end()) {
    config_json = it->second;
  } else {
    const std::string side = sidecar_path(path);
    if (!std::filesystem::exists(side))
      fail(path, "no U-Net config (neither '" + std::string(kConfigKey) + "' metadata nor " + side + ")");
    try {
      config_json = nlohmann::json::parse(read_text_file(side)).at("config").dump();
    } catch (const nlohmann::json::exception& e) {
      fail(side, std::string("bad U-Net config: ") + e.what());
    }
  }
  auto impl = std::make_unique<Impl>(UNetConfig::from_json(config_json, path));
  unet::load_state(impl->network, *file);
  return std::shared_ptr<UNetModel>(new UNetModel(std::move(impl)));
}

void UNetModel::save(const std::string& path, const std::string& extra_json) const {
  const std::string config = impl_->config.to_json();
  write_safetensors(path, unet::state_refs(impl_->network), {{"format", "pt"}, {kConfigKey, config}});
  nlohmann::json side = nlohmann::json::parse(extra_json);
  side["config"] = nlohmann::json::parse(config);
  side["weights"] = std::filesystem::path(path).filename().string();
  write_text_atomically(sidecar_path(path), side.dump(2) + "\n");
}

}  // namespace segkit
