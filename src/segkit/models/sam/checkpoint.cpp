#include "models/sam/checkpoint.h"

#include "checkpoints/float_tensors.h"
#include "models/sam/weight_names.h"

namespace segkit::sam {

namespace {
LoadedWeights translated(checkpoints::FloatTensors file, const std::string& path) {
  return LoadedWeights{translate_hf_names(file.tensors, path), std::move(file.backing_files)};
}
}  // namespace

LoadedWeights read_safetensors_weights(const std::string& path) {
  return translated(checkpoints::read_safetensors_tensors(path), path);
}

LoadedWeights read_pth_weights(const std::string& path) { return translated(checkpoints::read_pth_tensors(path), path); }

}  // namespace segkit::sam
