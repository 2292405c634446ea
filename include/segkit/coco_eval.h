#pragma once
// COCO instance-segmentation evaluation with the exact semantics of pycocotools' COCOeval
// (iouType "segm", default parameters): per image and category matching at IoU .50:.95,
// crowd regions, area ranges on the gt "area" field, maxDets 1/10/100 per image, 101-point
// interpolated precision, and the 12 numbers of summarize().
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct CocoEvalResult {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where undefined.
  std::array<double, 12> stats{};
  std::vector<int64_t> category_ids;     // every category of the gt file, ascending
  std::vector<double> per_category_ap;   // IoU .50:.95, area all, maxDets 100; -1 without gt
  std::vector<double> per_category_ap50;
  std::vector<double> per_category_ar100;
  std::vector<int64_t> per_category_num_gt;  // non-crowd gts over all images
};

inline constexpr const char* kCocoStatLabels[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

// gt: COCO instances JSON text; results: a JSON list of {image_id, category_id, segmentation,
// score}. The names are used in error messages. Error on malformed JSON, missing fields,
// malformed RLE, or results on images that are not in the gt file.
CocoEvalResult coco_evaluate_segm(const std::string& gt_json, const std::string& gt_name,
                                  const std::string& results_json, const std::string& results_name,
                                  int threads = 1);
CocoEvalResult coco_evaluate_segm_files(const std::string& gt_path, const std::string& results_path, int threads = 1);

// The thresholds COCOeval uses, built as numpy.linspace builds them (bit for bit).
std::vector<double> coco_iou_thresholds();
std::vector<double> coco_recall_thresholds();

// JSON {"stats": [12], "per_category_ap": {"<id>": ap}} and a readable table.
std::string coco_eval_json(const CocoEvalResult& result);
std::string coco_eval_table(const CocoEvalResult& result);

}  // namespace segkit
