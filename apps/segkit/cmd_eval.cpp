// `segkit eval`: measure segmentation quality (semantic, instance/COCO, panoptic).
#include <iostream>

#include "command.h"
#include "eval_commands.h"
#include "segkit/files.h"

namespace segkit::cli {
void write_eval_output(const std::string& path, const std::string& text) {
  if (path == "-") std::cout << text << std::flush;
  else write_text_atomically(path, text);
}
}  // namespace segkit::cli

SEGKIT_COMMAND("eval", "Evaluate predictions against ground truth (semantic, instance, panoptic)", [](CLI::App& cmd) {
  cmd.require_subcommand(1);
  segkit::cli::setup_eval_semantic(*cmd.add_subcommand("semantic", "mIoU, accuracy and Dice of label-map PNG folders"));
  segkit::cli::setup_eval_instance(*cmd.add_subcommand("instance", "COCO mask AP (COCOeval segm) of a results JSON"));
  segkit::cli::setup_eval_panoptic(*cmd.add_subcommand("panoptic", "Panoptic quality (PQ, SQ, RQ) of COCO panoptic PNGs"));
});
