#pragma once
// Segmentation results as the files other tools and `segkit eval` read: label PNGs with a
// legend (semantic), COCO results (instance) and COCO panoptic PNG + annotation (panoptic).
#include <cstdint>
#include <string>
#include <vector>

#include "segkit/image.h"
#include "segkit/mask2former.h"

namespace segkit {

// {"0": "person", ...}: label ids to names, as config.json's id2label.
std::string label_legend_json(const std::vector<std::string>& labels);

// A semantic result's class map as an 8-bit PNG when every label fits, else 16-bit; atomic.
void save_semantic_png(const std::string& path, const Segmentation& semantic);

// COCO results for one image: a JSON array of {image_id, category_id, score, segmentation
// (compressed column-major RLE), bbox [x, y, w, h], area}, one per instance mask.
std::string coco_instance_results_json(const Segmentation& instance, int64_t image_id);

// COCO panoptic: the PNG encoding id = R + 256·G + 256²·B (0 = void), and the image's
// annotation {image_id, file_name, segments_info: [{id, category_id, isthing, area, bbox,
// iscrowd}]}. Segments are renumbered 1, 2, ... in order; pixels of an id missing from
// segments, and transformers' -1 (nothing kept), become void. A label is a thing unless it is
// one of `stuff_labels`.
struct PanopticRecord {
  Image png;
  std::string annotation_json;
};
PanopticRecord coco_panoptic_record(const Segmentation& panoptic, int64_t image_id, const std::string& file_name,
                                    const std::vector<int>& stuff_labels);
// The categories list of a COCO panoptic JSON: [{id, name, isthing}] for every label.
std::string coco_panoptic_categories_json(const std::vector<std::string>& labels, const std::vector<int>& stuff_labels);

// A colour per segment over the image (alpha 0.5), at the image's size.
Image render_segmentation_overlay(const Image& image, const Segmentation& segmentation);

}  // namespace segkit
