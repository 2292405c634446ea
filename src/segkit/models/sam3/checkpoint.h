#pragma once
// A SAM 3 checkpoint's tensors under transformers' Sam3Model module paths ("vision_encoder.…",
// "text_encoder.…", "detr_decoder.…"): the "detector_model." prefix of facebook/sam3 (a
// sam3_video checkpoint) is removed and its tracker tensors are left out.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

using LoadedWeights = nn::LoadedWeights;

// A .safetensors file (or a torch.save'd state dict). Error naming the file for an unreadable
// one or one without any vision_encoder tensor (a checkpoint of another family).
LoadedWeights read_weights(const std::string& path, const Sam3Config& config);

// Every tensor of the vision encoder (ViT and neck) with its shape, from the configuration.
using Shapes = std::map<std::string, std::vector<int64_t>>;
Shapes vision_encoder_shapes(const Sam3Config& config);

}  // namespace segkit::sam3
