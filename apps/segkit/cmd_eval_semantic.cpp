// `segkit eval semantic`: a thin shell over segkit::evaluate_semantic_folders.
#include <iostream>
#include <memory>

#include "command.h"
#include "eval_commands.h"
#include "metrics/semantic_folders.h"

namespace segkit::cli {

void setup_eval_semantic(CLI::App& cmd) {
  struct Args {
    SemanticFolderOptions options;
    double nan_to_num = 0;
    std::string label_map, json, per_image, confusion;
    CommonOptions common;
  };
  auto a = std::make_shared<Args>();
  cmd.add_option("--pred", a->options.pred_dir, "Folder of predicted label PNGs")->required();
  cmd.add_option("--gt", a->options.gt_dir, "Folder of ground-truth label PNGs (matched by file name)")->required();
  cmd.add_option("--num-labels", a->options.metric.num_labels, "Number of classes; labels are 0..N-1")->required();
  cmd.add_option("--ignore-index", a->options.metric.ignore_index, "Ground-truth value to ignore")->capture_default_str();
  cmd.add_flag("--reduce-labels", a->options.metric.reduce_labels,
               "Ground truth: 0 becomes ignored (255) and every other label is reduced by 1");
  auto* nan_opt = cmd.add_option("--nan-to-num", a->nan_to_num, "Replace NaN in the IoU/accuracy outputs by this value");
  cmd.add_option("--label-map", a->label_map, "JSON list of [old, new] pairs applied in order to the ground truth");
  cmd.add_option("--json", a->json, "Write the results as JSON to this file ('-' = standard output)");
  cmd.add_option("--per-image", a->per_image, "Write per-image scores to this CSV file");
  cmd.add_option("--confusion", a->confusion, "Write the confusion matrix (rows = gt) to this CSV file");
  cmd.add_flag("--strict", a->options.strict, "Labels outside [0, num-labels) that are not ignored are an error");
  cmd.add_flag("--allow-missing", a->options.allow_missing, "Evaluate matched files when some predictions are missing");
  add_common_options(cmd, a->common);
  cmd.callback([a, nan_opt] {
    apply_common_options(a->common);
    SemanticFolderOptions opt = a->options;
    opt.threads = a->common.threads;
    opt.per_image = !a->per_image.empty();
    if (nan_opt->count() > 0) opt.metric.nan_to_num = a->nan_to_num;
    if (!a->label_map.empty()) opt.metric.label_map = load_label_map_file(a->label_map);
    const SemanticFolderReport report = evaluate_semantic_folders(opt);
    if (!a->common.quiet) {
      if (!report.missing_predictions.empty())
        std::cerr << "segkit: warning: " << report.missing_predictions.size()
                  << " ground-truth file(s) have no prediction and were skipped, first: " << report.missing_predictions[0] << "\n";
      if (!report.extra_predictions.empty())
        std::cerr << "segkit: warning: " << report.extra_predictions.size()
                  << " prediction file(s) have no ground truth and were ignored, first: " << report.extra_predictions[0] << "\n";
      auto warn = [&](const OutOfRangeReport& r, const char* what) {
        if (r.pixels == 0) return;
        std::cerr << "segkit: warning: " << r.pixels << " " << what << " pixel(s) have a label outside [0, "
                  << opt.metric.num_labels << ") and were counted in no class, first in " << r.first_file
                  << " (value " << r.first_value << ")\n";
      };
      warn(report.gt_out_of_range, "ground-truth");
      warn(report.pred_out_of_range, "predicted");
    }
    if (!a->per_image.empty()) write_eval_output(a->per_image, semantic_per_image_csv(report.per_image));
    if (!a->confusion.empty())
      write_eval_output(a->confusion, semantic_confusion_csv(report.confusion, opt.metric.num_labels));
    if (!a->json.empty()) write_eval_output(a->json, semantic_result_json(report.result));
    else if (!a->common.quiet) std::cout << report.num_images << " images\n" << semantic_table(report.result);
  });
}

}  // namespace segkit::cli
