// The model families, and telling which one a checkpoint is: by config.json's model_type
// (the Hugging Face convention, as transformers' AutoModel), else by what the weights file holds.
#include "models/registry.h"

#include <algorithm>

#include "checkpoints/pth_reader.h"
#include "core/json_read.h"
#include "models/device.h"
#include "models/mask2former/family.h"
#include "models/sam/family.h"
#include "models/sam3/family.h"
#if !SEGKIT_GPU_KIT  // the GPU kit (cmake/SegkitGpuKit.cmake) has no U-Net: it needs OpenCV
#include "models/unet/family.h"
#endif
#include "segkit/error.h"

namespace segkit::models {

const std::vector<FamilyEntry>& families() {
  // One line per family: name, title, config.json model_types, detector for config-less files,
  // describer, loader, the commands that take it. Families without a loader are recognised
  // only so that their error can name them.
  static const std::vector<FamilyEntry> table = {
      {"sam", "SAM", {"sam"}, sam::detect, sam::describe, sam::load, {"predict", "embed", "generate", "serve", "bench"}},
#if !SEGKIT_GPU_KIT
      {"unet", "U-Net", {}, unet::detect, unet::describe, unet::load, {"unet predict", "unet eval", "unet ensemble"}},
#endif
      {"mask2former", "Mask2Former", {"mask2former"}, nullptr, mask2former::describe, mask2former::load, {"segment"}},
      {"sam3", "SAM 3", {"sam3", "sam3_video"}, nullptr, sam3::describe, sam3::load, {"predict --text", "embed", "segment --text"}},
  };
  return table;
}

const FamilyEntry* find_family(const std::string& name) {
  for (const auto& f : families())
    if (name == f.name) return &f;
  return nullptr;
}

void fill_family_fields(ModelInfo& info) {
  const FamilyEntry* f = find_family(info.family);
  if (!f) return;
  info.family_title = f->title;
  info.runnable = f->load != nullptr;
  info.commands = f->commands;
}

void fill_location_fields(ModelInfo& info, const std::string& source, const ModelLocation& location) {
  info.source = source;
  info.found_as = location.found_as;
  info.location = location.description;
  info.weights = location.weights;
  info.config = location.config;
}

int64_t TensorHeader::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t CheckpointIndex::float_elements(bool (*keep)(const std::string& name)) const {
  int64_t n = 0;
  for (const auto& [name, t] : tensors) {
    const bool is_float = t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 || t.dtype == DType::F64;
    if (is_float && (!keep || keep(name))) n += t.numel();
  }
  return n;
}

namespace {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : separator) + item;
  return s;
}

// Headers only: both readers map the file and parse its index without copying tensor data.
CheckpointIndex read_index(const std::string& source) {
  CheckpointIndex index;
  index.source = source;
  index.location = locate_model(source);
  const ModelLocation& loc = index.location;
  if (!loc.config.empty()) {
    index.config = read_json_file(loc.config, JsonLimits::config());
    if (!index.config.is_object()) fail(loc.config, "not a JSON object");
  }
  if (loc.format == WeightsFormat::Safetensors) {
    auto file = SafetensorsFile::open(loc.weights);
    for (const std::string& name : file->names()) {
      const TensorView& v = file->get(name);
      index.tensors[name] = {v.dtype, v.shape};
    }
    index.metadata = file->metadata();
  } else {
    auto file = PthFile::open(loc.weights);
    for (const auto& [name, t] : file->tensors()) index.tensors[name] = {t.dtype, t.shape};
  }
  return index;
}

std::string runnable_list() { return join(runnable_model_families(), ", "); }

// "this is a Mask2Former model (config.json model_type "mask2former"), which this segkit cannot run"
[[noreturn]] void fail_not_runnable(const ModelInfo& info) {
  fail(info.source, "this is a " + info.family_title + " model (" + info.identified_by +
                        "), which this segkit cannot run (it runs " + runnable_list() + ")");
}

}  // namespace

}  // namespace segkit::models

namespace segkit {

using models::CheckpointIndex;
using models::FamilyEntry;

std::vector<std::string> runnable_model_families() {
  std::vector<std::string> names;
  for (const auto& f : models::families())
    if (f.load) names.push_back(f.name);
  return names;
}

ModelInfo inspect_model(const std::string& source) {
  const CheckpointIndex index = models::read_index(source);
  const FamilyEntry* family = nullptr;
  std::string how;
  if (index.config.contains("model_type")) {
    const nlohmann::json& type = index.config["model_type"];
    if (!type.is_string()) fail(index.location.config, "model_type is not a string");
    for (const auto& f : models::families())
      if (std::count(f.model_types.begin(), f.model_types.end(), type.get<std::string>())) family = &f;
    // dump() quotes and escapes: the message stays on one line whatever the file holds.
    if (!family)
      fail(source, "config.json has model_type " + type.dump() + ", not a model family segkit knows (" +
                       models::runnable_list() + ")");
    how = "config.json model_type " + type.dump();
  } else {
    for (const auto& f : models::families()) {
      if (!f.detect) continue;
      how = f.detect(index);
      if (!how.empty()) {
        family = &f;
        break;
      }
    }
    if (!family)
      fail(source, std::string(index.location.config.empty() ? "no config.json" : "config.json has no model_type") +
                       ", and the tensors of " + index.location.weights + " are not those of a model family segkit knows (" +
                       models::runnable_list() + ")");
  }

  ModelInfo info;
  info.family = family->name;
  models::fill_family_fields(info);
  models::fill_location_fields(info, source, index.location);
  info.identified_by = how;
  if (family->describe) {
    family->describe(index, info);
  } else {
    const nlohmann::json& archs = index.config.is_object() ? index.config.value("architectures", nlohmann::json()) : nlohmann::json();
    info.architecture = archs.is_array() && !archs.empty() && archs[0].is_string() ? archs[0].get<std::string>() : info.family;
    info.parameter_count = index.float_elements();
  }
  return info;
}

std::shared_ptr<const Model> load_model(const std::string& source, const LoadOptions& options) {
  models::require_supported_device(options.device);
  const ModelInfo info = inspect_model(source);
  const FamilyEntry* family = models::find_family(info.family);
  if (!family->load) models::fail_not_runnable(info);
  const auto& p = info.precisions;
  const std::string precision = precision_name(options.precision);
  if (options.precision != Precision::Auto && std::find(p.begin(), p.end(), precision) == p.end())
    fail("precision '" + precision + "'", "a " + info.family_title + " model runs in " + models::join(p, " or ") + " (or auto)");
  return family->load(info, options);
}

ModelInfo require_model_family(const std::string& source, const std::string& family) {
  ModelInfo info = inspect_model(source);
  if (info.family == family) return info;
  if (!info.runnable) models::fail_not_runnable(info);
  const FamilyEntry* wanted = models::find_family(family);
  const std::string want = wanted ? std::string(wanted->title) : family;
  fail(source, "this is a " + info.family_title + " model, not a " + want + " model; use segkit " + info.commands.front());
}

}  // namespace segkit
