// `segkit dev-random-sam` (hidden, for developers): write a random-weight SAM of a standard
// size in the Hugging Face layout, for benchmarks on machines without the real checkpoints.
#include <iostream>

#include "command.h"
#include "models/sam/random_checkpoint.h"

namespace {
struct RandomSamArgs {
  std::string variant = "vit_b", out;
  uint64_t seed = 0;
} args;
}  // namespace

SEGKIT_COMMAND("dev-random-sam", "Write a random-weight SAM (vit_b, vit_l, vit_h) as config.json + model.safetensors", [](CLI::App& cmd) {
  cmd.group("");  // a developer tool: not listed in --help
  cmd.add_option("--variant", args.variant, "vit_b, vit_l or vit_h")->check(CLI::IsMember({"vit_b", "vit_l", "vit_h"}));
  cmd.add_option("-o,--out", args.out, "Output folder (created)")->required();
  cmd.add_option("--seed", args.seed, "Seed of the random weights");
  cmd.callback([] {
    segkit::sam::write_random_checkpoint(args.out, segkit::sam::standard_config(args.variant), args.seed);
    std::cout << "wrote " << args.out << " (" << args.variant << ", random weights)\n";
  });
});
