#include "metrics/semantic_folders.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/json_read.h"
#include "core/parallel.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/label_map.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

std::set<std::string> png_names(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, what + " folder does not exist or is not a folder");
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png") names.insert(entry.path().filename().string());
  }
  if (ec) fail(dir, "cannot list folder: " + ec.message());
  return names;
}

std::string fmt(double v, int digits = 4) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  return nlohmann::json(v).dump();  // shortest text that reads back to the same double
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::vector<std::pair<int64_t, int64_t>> load_label_map_file(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  if (!j.is_array()) fail(path, "label map must be a JSON list of [old, new] pairs");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (const auto& p : j) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer())
      fail(path, "label map entry " + p.dump() + " is not an [old, new] pair of integers");
    pairs.emplace_back(p[0].get<int64_t>(), p[1].get<int64_t>());
  }
  return pairs;
}

SemanticFolderReport evaluate_semantic_folders(const SemanticFolderOptions& options) {
  SemanticAccumulator prototype(options.metric);  // validates the options first
  const std::set<std::string> gt_names = png_names(options.gt_dir, "ground-truth");
  const std::set<std::string> pred_names = png_names(options.pred_dir, "prediction");
  SemanticFolderReport report;
  std::vector<std::string> files;
  for (const auto& name : gt_names) {
    if (pred_names.count(name)) files.push_back(name);
    else report.missing_predictions.push_back(name);
  }
  for (const auto& name : pred_names)
    if (!gt_names.count(name)) report.extra_predictions.push_back(name);
  if (gt_names.empty()) fail(options.gt_dir, "no PNG label maps in the ground-truth folder");
  if (!report.missing_predictions.empty() && !options.allow_missing)
    fail(options.pred_dir, std::to_string(report.missing_predictions.size()) +
                               " ground-truth file(s) have no prediction, first: " + report.missing_predictions[0] +
                               " (use --allow-missing to evaluate the others)");

  struct Slot {
    SemanticImageScores scores;
  };
  std::vector<Slot> slots(files.size());
  const size_t threads = parallel_workers(files.size(), options.threads);
  std::vector<SemanticAccumulator> accumulators(threads, prototype);
  // A failure is reported for the first failing file in name order.
  parallel_for(files.size(), options.threads, [&](size_t i, size_t t) {
    const std::string pred_path = (fs::path(options.pred_dir) / files[i]).string();
    const std::string gt_path = (fs::path(options.gt_dir) / files[i]).string();
    const LabelImage gt = load_label_png(gt_path);
    const LabelImage pred = load_label_png(pred_path);
    if (gt.width != pred.width || gt.height != pred.height)
      fail(pred_path, "prediction is " + std::to_string(pred.width) + "x" + std::to_string(pred.height) +
                          " but the ground truth is " + std::to_string(gt.width) + "x" + std::to_string(gt.height));
    slots[i].scores = accumulators[t].add_image(pred.labels.data(), gt.labels.data(), gt.labels.size());
    if (options.strict && (slots[i].scores.num_gt_out_of_range_pixels || slots[i].scores.num_pred_out_of_range_pixels)) {
      const bool in_gt = slots[i].scores.num_gt_out_of_range_pixels > 0;
      fail(in_gt ? gt_path : pred_path,
           "label " + std::to_string(in_gt ? slots[i].scores.first_gt_out_of_range : slots[i].scores.first_pred_out_of_range) +
               " is outside [0, " + std::to_string(options.metric.num_labels) + ") and not the ignore index");
    }
  });

  for (size_t t = 1; t < threads; ++t) accumulators[0].merge(accumulators[t]);
  report.num_images = files.size();
  report.result = accumulators[0].result();
  report.confusion = accumulators[0].confusion_matrix();
  for (size_t i = 0; i < files.size(); ++i) {
    const SemanticImageScores& s = slots[i].scores;
    auto note = [&](OutOfRangeReport& r, int64_t pixels, int64_t value) {
      if (pixels == 0) return;
      if (r.pixels == 0) r.first_file = files[i], r.first_value = value;
      r.pixels += pixels;
    };
    note(report.gt_out_of_range, s.num_gt_out_of_range_pixels, s.first_gt_out_of_range);
    note(report.pred_out_of_range, s.num_pred_out_of_range_pixels, s.first_pred_out_of_range);
    if (options.per_image) report.per_image.push_back({files[i], s});
  }
  return report;
}

std::string semantic_result_json(const SemanticResult& r) {
  nlohmann::json j;  // nlohmann writes NaN as null
  j["mean_iou"] = r.mean_iou;
  j["mean_accuracy"] = r.mean_accuracy;
  j["overall_accuracy"] = r.overall_accuracy;
  j["per_category_iou"] = r.per_category_iou;
  j["per_category_accuracy"] = r.per_category_accuracy;
  j["per_category_dice"] = r.per_category_dice;
  j["mean_dice"] = r.mean_dice;
  return j.dump(2) + "\n";
}

std::string semantic_per_image_csv(const std::vector<SemanticImageRow>& rows) {
  std::string out = "file,mean_iou,mean_accuracy,pixel_accuracy,mean_dice,evaluated_pixels\n";
  for (const auto& row : rows) {
    const auto& s = row.scores;
    out += csv_field(row.file) + "," + csv_number(s.mean_iou) + "," + csv_number(s.mean_accuracy) + "," +
           csv_number(s.pixel_accuracy) + "," + csv_number(s.mean_dice) + "," + std::to_string(s.num_evaluated_pixels) + "\n";
  }
  return out;
}

std::string semantic_confusion_csv(const std::vector<int64_t>& m, int n) {
  std::string out = "gt\\pred";
  for (int p = 0; p < n; ++p) out += "," + std::to_string(p);
  out += "\n";
  for (int g = 0; g < n; ++g) {
    out += std::to_string(g);
    for (int p = 0; p < n; ++p) out += "," + std::to_string(m[static_cast<size_t>(g) * n + p]);
    out += "\n";
  }
  return out;
}

std::string semantic_table(const SemanticResult& r) {
  std::ostringstream os;
  os << "mean IoU          " << fmt(r.mean_iou) << "\n"
     << "mean accuracy     " << fmt(r.mean_accuracy) << "\n"
     << "overall accuracy  " << fmt(r.overall_accuracy) << "\n"
     << "mean Dice         " << fmt(r.mean_dice) << "\n\n"
     << "class        IoU  accuracy      Dice    gt pixels  pred pixels\n";
  for (size_t c = 0; c < r.per_category_iou.size(); ++c) {
    char line[160];
    std::snprintf(line, sizeof line, "%5zu  %9s %9s %9s %12lld %12lld\n", c, fmt(r.per_category_iou[c]).c_str(),
                  fmt(r.per_category_accuracy[c]).c_str(), fmt(r.per_category_dice[c]).c_str(),
                  static_cast<long long>(r.area_label[c]), static_cast<long long>(r.area_pred[c]));
    os << line;
  }
  return os.str();
}

}  // namespace segkit
