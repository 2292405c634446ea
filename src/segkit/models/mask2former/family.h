#pragma once
// Mask2Former as a model family of the registry (models/registry.h).
#include <memory>

#include "segkit/model.h"

namespace segkit::models {
struct CheckpointIndex;
}

namespace segkit::mask2former {

void describe(const models::CheckpointIndex& index, ModelInfo& info);
std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options);

}  // namespace segkit::mask2former
