#pragma once
// Semantic-segmentation metrics (IoU, class accuracy, pixel accuracy, Dice) with the exact
// semantics of Hugging Face evaluate's mean_iou: gt preprocessing (label map, then
// reduce_labels), ignore index, labels outside [0, num_labels) counted in no class, areas
// summed over the dataset and the ratios taken once, NaN for 0/0 and skipped in the means.
//
// SemanticAccumulator holds one confusion matrix, so memory does not grow with the number of
// images; give each thread its own accumulator and merge() them at the end.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace segkit {

struct SemanticOptions {
  int num_labels = 0;
  int64_t ignore_index = 255;
  bool reduce_labels = false;                              // gt only: 0 -> 255, v -> v-1, 254 -> 255
  std::vector<std::pair<int64_t, int64_t>> label_map;      // gt only, applied pair by pair in order
  std::optional<double> nan_to_num;                        // replaces NaN in the five mean_iou outputs
};

struct SemanticResult {
  // The reference's mean_iou outputs (nan_to_num applied). NaN when undefined.
  double mean_iou = 0, mean_accuracy = 0, overall_accuracy = 0;
  std::vector<double> per_category_iou, per_category_accuracy;
  // Dice = 2I / (P + G) per class and its NaN-skipping mean; nan_to_num does not touch them.
  double mean_dice = 0;
  std::vector<double> per_category_dice;
  std::vector<int64_t> area_intersect, area_union, area_pred, area_label;
  double pixel_accuracy = 0;             // overall_accuracy before nan_to_num
  int64_t num_evaluated_pixels = 0;      // gt != ignore_index after preprocessing
  int64_t num_gt_out_of_range_pixels = 0;    // evaluated pixels whose gt is not a class
  int64_t num_pred_out_of_range_pixels = 0;  // evaluated pixels whose pred is not a class
};

// Scores of a single image (for finding the worst images), same rules, no nan_to_num.
struct SemanticImageScores {
  double mean_iou = 0, mean_accuracy = 0, pixel_accuracy = 0, mean_dice = 0;
  int64_t num_evaluated_pixels = 0, num_gt_out_of_range_pixels = 0, num_pred_out_of_range_pixels = 0;
  int64_t first_gt_out_of_range = 0, first_pred_out_of_range = 0;  // a sample value, when the count is > 0
};

class SemanticAccumulator {
 public:
  // Error when num_labels < 1 or too large for a dense confusion matrix (more than 4096).
  explicit SemanticAccumulator(SemanticOptions options);
  SemanticAccumulator(const SemanticAccumulator&);
  SemanticAccumulator& operator=(const SemanticAccumulator&);
  SemanticAccumulator(SemanticAccumulator&&) noexcept;
  SemanticAccumulator& operator=(SemanticAccumulator&&) noexcept;
  ~SemanticAccumulator();

  // One image's pixels (pred and gt in the same order); applies label_map/reduce_labels to gt.
  void add(const int32_t* pred, const int32_t* gt, size_t count);
  void add(const uint8_t* pred, const uint8_t* gt, size_t count);
  void add(const uint16_t* pred, const uint16_t* gt, size_t count);
  // add() that also returns the scores of this image alone.
  SemanticImageScores add_image(const int32_t* pred, const int32_t* gt, size_t count);
  SemanticImageScores add_image(const uint8_t* pred, const uint8_t* gt, size_t count);
  SemanticImageScores add_image(const uint16_t* pred, const uint16_t* gt, size_t count);

  // Sums another accumulator's counts into this one; Error when the options differ.
  void merge(const SemanticAccumulator& other);
  void reset();

  SemanticResult result() const;
  const SemanticOptions& options() const;
  int num_labels() const;
  // Evaluated pixels with gt class g and predicted class p (both in range).
  int64_t confusion(int gt, int pred) const;
  // num_labels × num_labels, row-major, rows = gt class, columns = predicted class.
  std::vector<int64_t> confusion_matrix() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Applies label_map then reduce_labels to one gt value, as the reference does.
int64_t preprocess_gt_label(const SemanticOptions& options, int64_t value);

}  // namespace segkit
