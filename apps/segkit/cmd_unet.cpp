// `segkit unet`: the U-Net commands (train, predict, eval, ensemble).
#include "cmd_unet.h"

#include "command.h"

SEGKIT_COMMAND("unet", "Train, run and evaluate a U-Net for semantic segmentation", [](CLI::App& cmd) {
  cmd.require_subcommand(1);
  segkit::cli::add_unet_train(cmd);
  segkit::cli::add_unet_predict(cmd);
  segkit::cli::add_unet_eval(cmd);
  segkit::cli::add_unet_ensemble(cmd);
});
