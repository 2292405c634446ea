#pragma once
// SAM 3 as a model family of the registry (models/registry.h).
#include <memory>
#include <string>

#include "models/sam3/config.h"
#include "segkit/model.h"

namespace segkit::models {
struct CheckpointIndex;
}

namespace segkit::sam3 {

// "sam3 vit 1024×32 at 1008 px, text 1024×24, 200 queries"
std::string architecture_name(const Sam3Config& config, int image_size);
void describe(const models::CheckpointIndex& index, ModelInfo& info);
std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options);

}  // namespace segkit::sam3
