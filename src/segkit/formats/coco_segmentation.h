#pragma once
// A COCO annotation's "segmentation" (polygon list, uncompressed or compressed RLE) as one
// RLE, the way pycocotools' COCO.annToRLE does it. Internal: callers hold nlohmann JSON.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "segkit/rle.h"

namespace segkit {

// height/width are the image's, used for polygons and boxes; RLE forms keep their own "size".
// Error "<context>: problem" for anything pycocotools would reject.
Rle rle_from_coco_segmentation(const nlohmann::json& segmentation, int64_t height, int64_t width,
                               const std::string& context);

}  // namespace segkit
