// `segkit dev-random-mask2former` (hidden, for developers): write a random-weight Mask2Former of
// a given config.json in the Hugging Face layout, for benchmarks without the real checkpoints.
#include <iostream>

#include "command.h"
#include "models/mask2former/random_checkpoint.h"

namespace {
struct RandomMask2FormerArgs {
  std::string config, out;
  uint64_t seed = 0;
} args;
}  // namespace

SEGKIT_COMMAND("dev-random-mask2former", "Write a random-weight Mask2Former of a config.json (+ model.safetensors)", [](CLI::App& cmd) {
  cmd.group("");  // a developer tool: not listed in --help
  cmd.add_option("--config", args.config, "A Mask2Former config.json (a preprocessor_config.json beside it is copied)")
      ->required();
  cmd.add_option("-o,--out", args.out, "Output folder (created)")->required();
  cmd.add_option("--seed", args.seed, "Seed of the random weights");
  cmd.callback([] {
    segkit::mask2former::write_random_checkpoint(args.out, args.config, args.seed);
    std::cout << "wrote " << args.out << " (random weights)\n";
  });
});
