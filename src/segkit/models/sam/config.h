#pragma once
// Working out a SAM architecture: from tensor shapes alone (official .pth files carry no
// config), refined by a Hugging Face config.json where one is present.
#include <nlohmann/json_fwd.hpp>

#include "nn/weight_map.h"
#include "segkit/sam.h"

namespace segkit::sam {

// hf_config / preprocessor may be null. Error names the tensor whose shape does not fit.
SamConfig infer_config(const nn::WeightMap& weights, const nlohmann::json* hf_config, const nlohmann::json* preprocessor);

}  // namespace segkit::sam
