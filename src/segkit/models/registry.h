#pragma once
// The model families segkit knows, one entry each (registry.cpp), and what identifying a
// checkpoint reads: config.json and the weights' headers, never the weights themselves.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hub/model_locator.h"
#include "segkit/model.h"
#include "segkit/safetensors.h"

namespace segkit::models {

struct TensorHeader {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

// A located checkpoint, read as far as telling its family takes.
struct CheckpointIndex {
  std::string source;                              // as the user gave it
  ModelLocation location;
  nlohmann::json config;                           // config.json; null when there is none
  std::map<std::string, TensorHeader> tensors;     // by name, from either file format
  std::map<std::string, std::string> metadata;     // safetensors header metadata

  // Elements of the floating-point tensors whose names pass `keep`: a default parameter count.
  int64_t float_elements(bool (*keep)(const std::string& name) = nullptr) const;
};

struct FamilyEntry {
  const char* name;                      // ModelInfo::family, as users type it
  const char* title;                     // for people
  std::vector<std::string> model_types;  // config.json "model_type" values of the family
  // For files without a config.json model_type: "" when `index` is not of the family, else how
  // it was told ("tensor names image_encoder.*"). Null: identified by model_type only.
  std::string (*detect)(const CheckpointIndex& index);
  // Fills architecture, parameter_count and precisions. Null: a generic description.
  void (*describe)(const CheckpointIndex& index, ModelInfo& info);
  // Null: recognised, but this segkit cannot run the family.
  std::shared_ptr<const Model> (*load)(const ModelInfo& info, const LoadOptions& options);
  std::vector<std::string> commands;     // the first is the one wrong-family errors suggest
};

const std::vector<FamilyEntry>& families();
const FamilyEntry* find_family(const std::string& name);
// Sets family_title, runnable and commands from the family's entry.
void fill_family_fields(ModelInfo& info);
// Sets source, found_as, location, weights and config from where the model was found.
void fill_location_fields(ModelInfo& info, const std::string& source, const ModelLocation& location);


}  // namespace segkit::models
