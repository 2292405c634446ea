#include "eval_commands.h"
namespace segkit::cli {
void setup_eval_panoptic(CLI::App& cmd) {}
}  // namespace segkit::cli
