#pragma once
// A checkpoint file's floating-point tensors as ATen tensors by name, for any family's loader:
// safetensors (memory-mapped) or a torch.save'd state dict (.pth/.pt/.bin, read without
// executing pickle code). Names are the file's own; families translate them afterwards.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "segkit/safetensors.h"

namespace segkit::checkpoints {

struct FloatTensors {
  std::map<std::string, at::Tensor> tensors;  // float32; views into the file where possible
  std::vector<std::shared_ptr<const void>> backing_files;  // keep alive while tensors are used
};

// The ATen type of a stored weight; Error naming the tensor for non-float dtypes.
at::ScalarType weight_scalar_type(DType type, const std::string& path, const std::string& name);

// Every tensor of a safetensors file; a tensor that is not floating point is an Error.
FloatTensors read_safetensors_tensors(const std::string& path);
// The floating-point entries of a state dict; others (step counters and the like in training
// checkpoints) are skipped.
FloatTensors read_pth_tensors(const std::string& path);

}  // namespace segkit::checkpoints
