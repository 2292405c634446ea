#pragma once
// Reading a Mask2Former checkpoint's config.json and preprocessor_config.json (transformers'
// layout: the Swin backbone under "backbone_config"), every field type- and range-checked.
#include <nlohmann/json.hpp>
#include <string>

#include "segkit/mask2former.h"

namespace segkit::mask2former {

// Error "<path>: ..." for a field of the wrong type or range, a backbone other than Swin, or
// settings this implementation does not run (see the checks in config.cpp).
Mask2FormerConfig parse_config(const nlohmann::json& config, const std::string& path);
// A missing file (path "") gives transformers' defaults for Mask2Former checkpoints.
Mask2FormerProcessorConfig parse_processor_config(const nlohmann::json& config, const std::string& path);

}  // namespace segkit::mask2former
