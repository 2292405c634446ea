// `segkit unet eval`: the model's predictions on DIR/images scored against DIR/masks.
#include <iostream>

#include "cmd_unet.h"
#include "command.h"
#include "segkit/error.h"
#include "segkit/unet.h"

namespace segkit::cli {

void add_unet_eval(CLI::App& unet) {
  auto common = std::make_shared<CommonOptions>();
  auto model = std::make_shared<std::string>(), data = std::make_shared<std::string>();
  CLI::App* cmd = unet.add_subcommand("eval", "Score a trained U-Net on DIR/images + DIR/masks");
  cmd->add_option("--model", *model, "Checkpoint (RUN/best.safetensors)")->required();
  cmd->add_option("--data", *data, "Data folder: DIR/images/* and DIR/masks/*")->required();
  add_common_options(*cmd, *common);
  cmd->callback([=] {
    apply_common_options(*common);
    fail("unet eval", "needs segkit's metrics module (not merged yet)");
  });
}

}  // namespace segkit::cli
