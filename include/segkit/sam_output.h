#pragma once
// Writing SAM predictions in the forms the CLI and the server hand out.
#include <string>

#include "segkit/sam.h"

namespace segkit {

// JSON array, one record per mask: {"score", "bbox" [x,y,w,h], "area", "segmentation"
// {"size": [h, w], "counts": COCO compressed RLE}}.
std::string prediction_records_json(const SamPrediction& prediction);

// By the form of `out`: "X.safetensors" (masks, iou_predictions, low_res_logits and, with
// logits, mask_logits), "X.json" (the records above), or a folder "X/" (mask_<i>.png per mask
// plus masks.json). Every file is written atomically.
void save_prediction(const SamPrediction& prediction, const std::string& out);

}  // namespace segkit

namespace segkit {

// Low-res logits to feed back as a mask prompt, from a safetensors file holding either
// `mask_input` (1×h×w) or the `low_res_logits` of an earlier prediction (its best mask by
// `iou_predictions`). Error names the file when the size is not low_res×low_res.
std::vector<float> load_mask_input(const std::string& path, int low_res);

}  // namespace segkit
