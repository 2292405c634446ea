// `segkit unet eval`: the model's predictions on DIR/images scored against DIR/masks, reported
// as `segkit eval semantic` reports.
#include <iostream>

#include "cmd_unet.h"
#include "command.h"
#include "eval_commands.h"
#include "metrics/semantic_folders.h"
#include "segkit/unet.h"

namespace segkit::cli {

namespace {
struct EvalFlags {
  CommonOptions common;
  std::string model, data, json;
  UNetPredictOptions options;
};
}  // namespace

void add_unet_eval(CLI::App& unet) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = unet.add_subcommand("eval", "Score a trained U-Net on DIR/images + DIR/masks");
  cmd->add_option("-m,--model", f->model, "Checkpoint (RUN/best.safetensors)")->required();
  cmd->add_option("--data", f->data, "Data folder: DIR/images/* and DIR/masks/* matched by stem")->required();
  cmd->add_option("--tile", f->options.tile, "Tile side in pixels (0 = whole image)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--overlap", f->options.overlap, "Tile overlap in pixels (default: exact)");
  cmd->add_flag("--tta", f->options.test_time_augmentation,
                "Test-time augmentation: average over the 8 flips and quarter turns (8x slower)");
  cmd->add_option("--json", f->json, "Write the results as JSON to this file ('-' = standard output)");
  add_common_options(*cmd, f->common);
  cmd->callback([f] {
    apply_common_options(f->common);
    const auto model = UNetModel::load(require_model_family(f->model, "unet").weights);
    const SemanticResult r = unet_evaluate(*model, f->data, f->options);
    if (!f->json.empty()) write_eval_output(f->json, semantic_result_json(r));
    else if (!f->common.quiet) std::cout << semantic_table(r);
  });
}

}  // namespace segkit::cli
