#pragma once
// Random-weight SAM checkpoints in the Hugging Face layout (config.json, model.safetensors,
// preprocessor_config.json), for benchmarks and tests: real shapes, meaningless weights.
#include <cstdint>
#include <string>

#include "segkit/sam.h"

namespace segkit::sam {

// "vit_b", "vit_l" or "vit_h" (upstream's registry shapes); Error for other names.
SamConfig standard_config(const std::string& variant);

// Writes the three files into `folder` (created if needed), each atomically. Same seed, same bytes.
void write_random_checkpoint(const std::string& folder, const SamConfig& config, uint64_t seed = 0);

}  // namespace segkit::sam
