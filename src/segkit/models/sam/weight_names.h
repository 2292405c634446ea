#pragma once
// SAM's checkpoints come in two namings: the official segment-anything one, which the network
// code uses, and Hugging Face transformers' SamModel one, translated here.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "nn/weight_map.h"

namespace segkit::sam {

// Hugging Face transformers' SamModel names → official names; keys already official pass through.
nn::WeightMap translate_hf_names(const std::map<std::string, at::Tensor>& hf, const std::string& source);

}  // namespace segkit::sam
