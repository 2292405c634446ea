// `segkit dev-random-sam3` (hidden, for developers): write a random-weight SAM 3 model folder
// (config.json, model.safetensors, processor_config.json and a synthetic CLIP tokenizer), by
// default at the released facebook/sam3 configuration, for benchmarks without the real weights.
#include <iostream>

#include "command.h"
#include "models/sam3/random_checkpoint.h"

namespace {
struct RandomSam3Args {
  std::string config, out;
  uint64_t seed = 0;
} args;
}  // namespace

SEGKIT_COMMAND("dev-random-sam3", "Write a random-weight SAM 3 model folder (released configuration by default)", [](CLI::App& cmd) {
  cmd.group("");  // a developer tool: not listed in --help
  cmd.add_option("--config", args.config,
                 "A SAM 3 config.json (sam3 or sam3_video; a processor_config.json beside it is copied); "
                 "default: transformers' Sam3Config() (facebook/sam3, 1008 px)");
  cmd.add_option("-o,--out", args.out, "Output folder (created)")->required();
  cmd.add_option("--seed", args.seed, "Seed of the random weights");
  cmd.callback([] {
    segkit::sam3::write_random_checkpoint(args.out, args.config, args.seed);
    std::cout << "wrote " << args.out << " (random weights)\n";
  });
});
