// Describing a Mask2Former checkpoint from config.json and its tensor headers.
#include "models/mask2former/family.h"

#include "models/mask2former/checkpoint.h"
#include "models/mask2former/config.h"
#include "models/registry.h"
#include "segkit/error.h"
#include "segkit/mask2former.h"

namespace segkit::mask2former {

namespace {

bool is_parameter(const std::string& name) { return !is_buffer(name); }

}  // namespace

std::string architecture_name(const Mask2FormerConfig& c) {
  return "mask2former swin embed " + std::to_string(c.embed_dim) + ", " + std::to_string(c.num_queries) + " queries, " +
         std::to_string(c.num_labels()) + " labels";
}

void describe(const models::CheckpointIndex& index, ModelInfo& info) {
  info.parameter_count = index.float_elements(is_parameter);
  info.precisions = {"fp32"};
  try {
    info.architecture = architecture_name(parse_config(index.config, index.location.config));
  } catch (const Error&) {
    info.architecture = "mask2former (config.json not runnable)";  // loading reports why
  }
}

std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options) {
  return Mask2FormerModel::load(info.source, options);
}

}  // namespace segkit::mask2former
