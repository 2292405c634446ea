#pragma once
// Reading SAM checkpoint files into a WeightMap under official names.
#include <memory>
#include <string>
#include <vector>

#include "nn/weight_map.h"

namespace segkit::sam {

using LoadedWeights = nn::LoadedWeights;

// A safetensors file in either naming (Hugging Face or official).
LoadedWeights read_safetensors_weights(const std::string& path);
// A torch.save'd state dict (.pth/.pt/.bin) in either naming.
LoadedWeights read_pth_weights(const std::string& path);

}  // namespace segkit::sam
