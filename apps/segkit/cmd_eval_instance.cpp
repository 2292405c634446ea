// `segkit eval instance`: COCOeval (segm) of a results JSON against COCO ground truth.
#include <iostream>
#include <memory>

#include "command.h"
#include "eval_commands.h"
#include "segkit/coco_eval.h"

namespace segkit::cli {

void setup_eval_instance(CLI::App& cmd) {
  struct Args {
    std::string gt, results, json;
    CommonOptions common;
  };
  auto a = std::make_shared<Args>();
  cmd.add_option("--gt", a->gt, "COCO instances JSON (images, annotations, categories)")->required();
  cmd.add_option("--results", a->results, "Results JSON: list of {image_id, category_id, segmentation (RLE), score}")->required();
  cmd.add_option("--json", a->json, "Write {stats, per_category_ap} as JSON to this file ('-' = standard output)");
  add_common_options(cmd, a->common);
  cmd.callback([a] {
    apply_common_options(a->common);
    const CocoEvalResult r = coco_evaluate_segm_files(a->gt, a->results, a->common.threads);
    if (!a->json.empty()) write_eval_output(a->json, coco_eval_json(r));
    else if (!a->common.quiet) std::cout << coco_eval_table(r);
  });
}

}  // namespace segkit::cli
