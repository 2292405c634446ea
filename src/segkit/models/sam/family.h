#pragma once
// SAM as a model family of the registry (models/registry.h).
#include <memory>
#include <string>

#include "segkit/model.h"

namespace segkit::models {
struct CheckpointIndex;
}

namespace segkit::sam {

std::string detect(const models::CheckpointIndex& index);
void describe(const models::CheckpointIndex& index, ModelInfo& info);
std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options);

// "sam vit_b" for the published sizes, else the encoder's dimensions.
std::string architecture_name(int encoder_width, int encoder_depth, int image_size);
// Whether a stored tensor counts as a parameter (buffers do not).
bool is_parameter(const std::string& name);

}  // namespace segkit::sam
