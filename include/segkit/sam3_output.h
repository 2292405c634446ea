#pragma once
// Writing SAM 3 results in the forms the CLI and the server hand out.
#include <cstdint>
#include <string>
#include <vector>

#include "segkit/sam3.h"

namespace segkit {

// JSON array, one record per instance of every result, in order: {"label" (the phrase),
// "prompt" (the result's index), "score", "bbox" [x, y, w, h] (the model's box), "area",
// "segmentation" {"size": [h, w], "counts": COCO compressed RLE}}.
std::string sam3_records_json(const std::vector<Sam3Result>& results);

// By the form of `out`: "X.safetensors" (masks N×H×W u8, scores N, boxes N×4 x0,y0,x1,y1,
// prompt N: each instance's result index; the phrases as metadata "phrases", a JSON list),
// "X.json" (the records above), or a folder "X/" (mask_<i>.png per instance plus masks.json).
// Every file is written atomically.
void save_sam3_results(const std::vector<Sam3Result>& results, const std::string& out);

// COCO results for one image: a JSON array of {image_id, category_id (the result's index + 1),
// score, segmentation (compressed RLE), bbox [x, y, w, h] (the model's box), area}.
std::string sam3_coco_results_json(const std::vector<Sam3Result>& results, int64_t image_id);

// The categories of those results: [{"id": i + 1, "name": phrase i}].
std::string sam3_categories_json(const std::vector<std::string>& phrases);

// transformers' raw outputs under its names (pred_logits, pred_boxes, presence_logits,
// pred_masks, semantic_seg), atomically.
void save_sam3_raw(const Sam3RawOutput& raw, const std::string& path);

}  // namespace segkit
