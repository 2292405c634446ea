#pragma once
// Binary masks as COCO run-length encodings, bit-identical to pycocotools (common/maskApi.c):
// the mask is read in column-major order and described by alternating run lengths that
// always begin with a run of zeros (0 when the first pixel is set).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct Rle {
  int64_t height = 0, width = 0;
  std::vector<uint32_t> counts;  // column-major runs, first run is zeros (COCO)
};

// mask is row-major height×width; any nonzero byte is foreground.
Rle rle_encode(const uint8_t* mask, int64_t height, int64_t width);
// Row-major height×width of 0/1.
std::vector<uint8_t> rle_decode(const Rle& rle);

// COCO's compressed counts string (6 bits per character, deltas against the run two back).
std::string rle_to_string(const Rle& rle);
// Error on characters outside the alphabet, a truncated last value, negative runs, or runs
// that do not add up to height*width.
Rle rle_from_string(const std::string& counts, int64_t height, int64_t width);
// Error unless the runs add up to height*width (what every decoder here relies on).
void rle_validate(const Rle& rle);

uint64_t rle_area(const Rle& rle);
// [x, y, w, h] of the foreground as pycocotools' toBbox; [0,0,0,0] for an empty mask.
std::array<double, 4> rle_bbox(const Rle& rle);

// pycocotools mask.iou for one pair: |d∩g|/|d∪g|, or |d∩g|/|d| when the gt is a crowd;
// 0 when the intersection is empty; -1 when the sizes differ and the bounding boxes overlap.
double rle_iou(const Rle& dt, const Rle& gt, bool gt_is_crowd);
// iou[d][g] for every pair, as pycocotools mask.iou(dt, gt, iscrowd) (rows = detections).
std::vector<std::vector<double>> rle_iou_matrix(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                                                const std::vector<uint8_t>& gt_is_crowd);

// Union (or intersection) as pycocotools mask.merge: size 0×0 with no runs when sizes differ;
// a single input is returned unchanged.
Rle rle_merge(const std::vector<Rle>& rles, bool intersect = false);

// pycocotools frPyObjects for one polygon [x1,y1,x2,y2,...] (pixel (0,0) covers [0,1)²),
// rasterised exactly as rleFrPoly does (edges upsampled ×5, clipped to the image).
Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width);
// An uncompressed RLE ({"counts": [...], "size": [h, w]}) taken as is, as frPyObjects does;
// Error unless the runs add up to height*width.
Rle rle_from_uncompressed(std::vector<uint32_t> counts, int64_t height, int64_t width);
// One [x,y,w,h] box, through the same rasteriser.
Rle rle_from_bbox(const std::array<double, 4>& box, int64_t height, int64_t width);

// pycocotools mask.iou on boxes [x,y,w,h] in continuous coordinates, rows = detections.
double box_iou(const std::array<double, 4>& dt, const std::array<double, 4>& gt, bool gt_is_crowd);

// How a mask is written into JSON output (upstream SAM's output_mode): rows of 0/1,
// uncompressed RLE, or COCO's compressed RLE string.
enum class MaskOutputMode { BinaryMask, UncompressedRle, CocoRle };
MaskOutputMode parse_mask_output_mode(const std::string& name);  // Error listing the choices
const char* mask_output_mode_name(MaskOutputMode mode);

}  // namespace segkit
