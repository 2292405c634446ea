#include "eval_commands.h"
namespace segkit::cli {
void setup_eval_instance(CLI::App& cmd) {}
}  // namespace segkit::cli
