#include "models/sam/checkpoint.h"
#include "segkit/error.h"

namespace segkit::sam {
// Replaced when the .pth reader lands.
LoadedWeights read_pth_weights(const std::string& path) { fail(path, ".pth checkpoints are not supported yet"); }
}  // namespace segkit::sam
