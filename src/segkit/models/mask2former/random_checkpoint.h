#pragma once
// Random-weight Mask2Former checkpoints in the Hugging Face layout, for benchmarks on machines
// without the real weights: every tensor the model loads, at its shape, with values of a scale
// that keeps activations O(1) (not transformers' init, whose zero biases and unit norms would
// make the arithmetic unrepresentative).
#include <cstdint>
#include <string>

namespace segkit::mask2former {

// Reads `config_path` (a Mask2Former config.json; Error "path: problem" when segkit cannot run
// it) and writes config.json (a copy), model.safetensors and preprocessor_config.json (the one
// beside the config when there is one, else transformers' defaults) into `folder`, created if
// needed. Same seed, same bytes.
void write_random_checkpoint(const std::string& folder, const std::string& config_path, uint64_t seed = 0);

}  // namespace segkit::mask2former
