#pragma once
// Mask2Former as a model family of the registry (models/registry.h).
#include <memory>

#include <string>

#include "segkit/mask2former.h"
#include "segkit/model.h"

namespace segkit::models {
struct CheckpointIndex;
}

namespace segkit::mask2former {

// "mask2former swin embed 96, 100 queries, 133 labels"
std::string architecture_name(const Mask2FormerConfig& config);
void describe(const models::CheckpointIndex& index, ModelInfo& info);
std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options);

}  // namespace segkit::mask2former
