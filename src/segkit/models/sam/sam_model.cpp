#include <c10/core/InferenceMode.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/heap_reuse.h"
#include "core/json_read.h"
#include "core/memory_cache.h"
#include "hub/model_locator.h"
#include "models/device.h"
#include "models/registry.h"
#include "models/sam/checkpoint.h"
#include "models/sam/config.h"
#include "models/sam/family.h"
#include "models/sam/sam_model_impl.h"
#include "nn/weight_fingerprint.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/machine.h"

namespace segkit {

namespace {

nlohmann::json read_json(const std::string& path) { return read_json_file(path, JsonLimits::config()); }

bool is_encoder_tensor(const std::string& name) { return name.rfind("image_encoder.", 0) == 0; }

}  // namespace

SamModel::SamModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SamModel::~SamModel() = default;
const SamConfig& SamModel::config() const { return impl_->config; }
const std::string& SamModel::source() const { return impl_->source; }
Precision SamModel::precision() const { return impl_->precision; }
Device SamModel::device() const { return impl_->device; }
const std::string& SamModel::fingerprint() const { return impl_->fingerprint; }
std::string SamModel::family() const { return "sam"; }

ModelInfo SamModel::info() const {
  ModelInfo info;
  info.family = family();
  models::fill_family_fields(info);
  info.architecture = sam::architecture_name(impl_->config.encoder_dim, impl_->config.encoder_depth, impl_->config.image_size);
  info.parameter_count = impl_->parameter_count;
  info.precisions = {"fp32", "bf16"};
  models::fill_location_fields(info, impl_->source, impl_->location);
  return info;
}

std::shared_ptr<const SamModel> SamModel::load(const std::string& source, const LoadOptions& options) {
  models::require_supported_device(options.device);
  c10::InferenceMode guard;
  core::use_tensor_memory_cache();  // the encoder's large temporaries repeat in size block after block
  core::keep_freed_heap_for_reuse();  // each prediction's mask buffers, request after request
  ModelLocation files = locate_model(source);
  sam::LoadedWeights loaded = files.format == WeightsFormat::Safetensors ? sam::read_safetensors_weights(files.weights)
                                                                         : sam::read_pth_weights(files.weights);
  nlohmann::json config, preprocessor;
  if (!files.config.empty()) config = read_json(files.config);
  if (!files.preprocessor_config.empty()) preprocessor = read_json(files.preprocessor_config);

  auto impl = std::make_unique<Impl>();
  nn::WeightMap& w = loaded.weights;
  impl->config = sam::infer_config(w, files.config.empty() ? nullptr : &config,
                                   files.preprocessor_config.empty() ? nullptr : &preprocessor);
  // Some official checkpoints carry the normalisation constants; they win over defaults.
  if (w.contains("pixel_mean") && w.contains("pixel_std") && w.get("pixel_mean").numel() == 3 &&
      w.get("pixel_std").numel() == 3) {
    at::Tensor m = w.get("pixel_mean").flatten().contiguous(), s = w.get("pixel_std").flatten().contiguous();
    for (int i = 0; i < 3; ++i) {
      impl->config.pixel_mean[i] = m[i].item<float>();
      impl->config.pixel_std[i] = s[i].item<float>();
    }
  }
  impl->source = source;
  impl->location = files;
  for (const auto& [name, t] : w.all())
    if (sam::is_parameter(name)) impl->parameter_count += t.numel();
  impl->fingerprint = nn::weights_fingerprint(w, is_encoder_tensor);  // reads the values: on the host
  impl->device = options.device;
  loaded.move_to(models::torch_device(options.device));
  impl->image_encoder = sam::ImageEncoder::load(w, impl->config);
  impl->precision = options.precision;
  if (impl->precision == Precision::Auto)  // GPUs segkit runs on (CUDA 12+, Ampere and later) have bf16
    impl->precision = options.device.kind == Device::Kind::Cuda || machine_info().native_bf16 ? Precision::Bf16
                                                                                               : Precision::Fp32;
  if (impl->precision == Precision::Bf16) impl->image_encoder.use_bfloat16();
  impl->prompt_encoder = sam::PromptEncoder::load(w, impl->config);
  impl->mask_decoder = sam::MaskDecoder::load(w, impl->config);
  impl->dense_pe = impl->prompt_encoder.dense_pe();
  impl->backing_files = std::move(loaded.backing_files);

  if (options.warn_unused) {
    std::set<std::string> unused = w.unused();
    unused.erase("pixel_mean");
    unused.erase("pixel_std");
    if (!unused.empty())
      std::cerr << "segkit: warning: " << files.weights << ": " << unused.size() << " tensor(s) not used by the model, e.g. '"
                << *unused.begin() << "'\n";
  }
  return std::shared_ptr<const SamModel>(new SamModel(std::move(impl)));
}

}  // namespace segkit
