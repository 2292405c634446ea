#pragma once
// `segkit eval semantic`: folders of predicted and ground-truth label PNGs, matched by file
// name, evaluated in parallel into one SemanticAccumulator per thread.
#include <string>
#include <utility>
#include <vector>

#include "segkit/metrics.h"

namespace segkit {

struct SemanticFolderOptions {
  std::string pred_dir, gt_dir;
  SemanticOptions metric;
  bool strict = false;         // a label outside [0, num_labels) (not ignored) is an error
  bool allow_missing = false;  // evaluate matched pairs when some gt files have no prediction
  bool per_image = false;      // fill SemanticFolderReport::per_image
  int threads = 0;             // 0 = all cores
};

struct SemanticImageRow {
  std::string file;
  SemanticImageScores scores;
};

struct OutOfRangeReport {
  int64_t pixels = 0;       // over all images
  std::string first_file;   // first file (in name order) that has any
  int64_t first_value = 0;  // a value found there
};

struct SemanticFolderReport {
  SemanticResult result;
  std::vector<int64_t> confusion;  // num_labels × num_labels, rows = gt
  std::vector<SemanticImageRow> per_image;
  std::vector<std::string> missing_predictions;  // gt files without a prediction
  std::vector<std::string> extra_predictions;    // prediction files without gt
  OutOfRangeReport gt_out_of_range, pred_out_of_range;
  size_t num_images = 0;
};

// Error naming the file for unreadable/corrupt PNGs, size mismatches, missing predictions
// (unless allow_missing), an empty gt folder and, with strict, out-of-range labels.
SemanticFolderReport evaluate_semantic_folders(const SemanticFolderOptions& options);

// Reads a label map file: a JSON list of [old, new] integer pairs.
std::vector<std::pair<int64_t, int64_t>> load_label_map_file(const std::string& path);

// The command's JSON: mean_iou, mean_accuracy, overall_accuracy, per_category_iou,
// per_category_accuracy, per_category_dice, mean_dice; NaN as null.
std::string semantic_result_json(const SemanticResult& result);
// file,mean_iou,mean_accuracy,pixel_accuracy,mean_dice,evaluated_pixels (NaN as "nan").
std::string semantic_per_image_csv(const std::vector<SemanticImageRow>& rows);
// Header "gt\pred,0,..,n-1", then one row per gt class.
std::string semantic_confusion_csv(const std::vector<int64_t>& confusion, int num_labels);
// Human-readable summary and per-class table.
std::string semantic_table(const SemanticResult& result);

}  // namespace segkit
