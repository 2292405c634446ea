// `segkit eval panoptic`: panopticapi-compatible PQ/SQ/RQ of COCO panoptic PNG folders.
#include <iostream>
#include <memory>

#include "command.h"
#include "eval_commands.h"
#include "segkit/panoptic.h"

namespace segkit::cli {

void setup_eval_panoptic(CLI::App& cmd) {
  struct Args {
    PanopticInputs in;
    std::string json;
    CommonOptions common;
  };
  auto a = std::make_shared<Args>();
  cmd.add_option("--gt-json", a->in.gt_json, "COCO panoptic ground-truth JSON")->required();
  cmd.add_option("--gt-dir", a->in.gt_dir, "Folder of ground-truth panoptic PNGs")->required();
  cmd.add_option("--pred-json", a->in.pred_json, "COCO panoptic prediction JSON")->required();
  cmd.add_option("--pred-dir", a->in.pred_dir, "Folder of predicted panoptic PNGs")->required();
  cmd.add_option("--json", a->json, "Write {All, Things, Stuff, per_class} as JSON to this file ('-' = standard output)");
  add_common_options(cmd, a->common);
  cmd.callback([a] {
    apply_common_options(a->common);
    PanopticInputs in = a->in;
    in.threads = a->common.threads;
    const PanopticResult r = evaluate_panoptic(in);
    if (!a->json.empty()) write_eval_output(a->json, panoptic_json(r));
    else if (!a->common.quiet) std::cout << panoptic_table(r);
  });
}

}  // namespace segkit::cli
