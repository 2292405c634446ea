#pragma once
// Panoptic quality with the exact rules of cocodataset/panopticapi (pq_compute): segment ids
// id = R + 256·G + 65536·B, id 0 is VOID; a gt and a pred segment of the same category match
// when IoU > 0.5 with the pred's VOID pixels left out of the union; crowd gts are never
// false negatives; an unmatched pred is no false positive when more than half of it lies on
// VOID or on the (last listed) crowd region of its category.
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct PanopticClassStats {
  int64_t tp = 0, fp = 0, fn = 0;
  double iou_sum = 0;
};

struct PanopticClassResult {
  double pq = 0, sq = 0, rq = 0;  // 0 for a category with tp + fp + fn == 0
};

struct PanopticGroupResult {
  double pq = 0, sq = 0, rq = 0;  // NaN when n == 0 (the reference raises ZeroDivisionError)
  int n = 0;                      // categories with tp + fp + fn > 0
};

struct PanopticResult {
  PanopticGroupResult all, things, stuff;
  std::vector<int64_t> category_ids;  // gt.json order
  std::vector<bool> is_thing;
  std::vector<PanopticClassResult> per_class;
  std::vector<PanopticClassStats> per_class_stats;
};

struct PanopticInputs {
  std::string gt_json, gt_dir, pred_json, pred_dir;
  int threads = 0;  // 0 = all cores
};

// Error naming the file: malformed JSON, a gt image without prediction, unreadable or
// mismatched PNGs, segments present in a PNG but not in the JSON (or the reverse), unknown
// categories.
PanopticResult evaluate_panoptic(const PanopticInputs& inputs);

// {"All"|"Things"|"Stuff": {pq, sq, rq, n}, "per_class": {"<id>": {pq, sq, rq}}}; NaN as null.
std::string panoptic_json(const PanopticResult& result);
std::string panoptic_table(const PanopticResult& result);

}  // namespace segkit
