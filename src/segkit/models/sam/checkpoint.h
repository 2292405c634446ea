#pragma once
// Reading SAM checkpoint files into a WeightMap under official names.
#include <memory>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>

#include "models/sam/weights.h"
#include "segkit/safetensors.h"

namespace segkit::sam {

struct LoadedWeights {
  WeightMap weights;
  std::vector<std::shared_ptr<const void>> backing_files;  // keep alive while tensors are used
};

// The ATen type of a stored weight; Error naming the tensor for non-float dtypes.
at::ScalarType weight_scalar_type(DType type, const std::string& path, const std::string& name);

// A safetensors file in either naming (Hugging Face or official).
LoadedWeights read_safetensors_weights(const std::string& path);
// A torch.save'd state dict (.pth/.pt/.bin), read without executing any pickle code.
LoadedWeights read_pth_weights(const std::string& path);

}  // namespace segkit::sam
