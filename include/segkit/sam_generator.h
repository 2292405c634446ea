#pragma once
// "Segment everything": SAM's automatic mask generator (upstream SamAutomaticMaskGenerator).
//
//   auto model = segkit::SamModel::load("facebook/sam-vit-base");
//   segkit::SamMaskGenerator generator(model);              // upstream defaults
//   for (const auto& r : generator.generate(segkit::load_image("photo.jpg"))) ...
//
// A grid of single-point prompts is decoded in batches over the image (and optionally over
// layers of overlapping crops); masks are filtered by predicted IoU and stability, thresholded,
// de-duplicated by box NMS, optionally cleaned of small islands and holes, and returned in
// upstream's order.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "segkit/image.h"
#include "segkit/rle.h"
#include "segkit/sam.h"

namespace segkit {

// Upstream's argument names and defaults. A new field goes into sam_generator_param_fields()
// too, which gives it its CLI option and its server JSON key.
struct SamGeneratorParams {
  int points_per_side = 32;            // grid of points_per_side² prompts on the whole image
  int points_per_batch = 64;           // prompts decoded together
  double pred_iou_thresh = 0.88;       // keep masks whose predicted IoU is above; <= 0 keeps all
  double stability_score_thresh = 0.95;  // keep masks at least this stable; 0 keeps all
  double stability_score_offset = 1.0;   // logit offset of the stability score
  double box_nms_thresh = 0.7;         // box IoU above which duplicates within a crop are dropped
  int crop_n_layers = 0;               // layers of crops; layer i has (2^i)² crops
  double crop_nms_thresh = 0.7;        // box IoU for duplicates between crops (smaller crops win)
  double crop_overlap_ratio = 512.0 / 1500.0;  // overlap of first-layer crops, fraction of the short side
  int crop_n_points_downscale_factor = 1;      // layer i uses points_per_side / factor^i points per side
  int min_mask_region_area = 0;        // > 0: fill holes and drop islands smaller than this, then NMS again

  // Error "<parameter name>: <problem>" for values upstream cannot run with.
  void validate() const;
};

// One field of SamGeneratorParams, for the readers that set fields by name: `segkit generate`
// (--points-per-side) and the server's POST /v1/images/{id}/generate ("points_per_side").
struct SamGeneratorParamField {
  const char* name;  // upstream's keyword, e.g. "points_per_side"
  const char* help;  // one line, for --help
  int SamGeneratorParams::*int_member;        // exactly one of the two is set
  double SamGeneratorParams::*double_member;
};
// Every field, in declaration order.
const std::vector<SamGeneratorParamField>& sam_generator_param_fields();

// One mask, with upstream's record fields.
struct SamMaskRecord {
  Rle segmentation;                  // the mask at the original image size
  int64_t area = 0;                  // pixels
  std::array<int64_t, 4> bbox{};     // XYWH around the mask (inclusive pixels: w = x1 - x0)
  double predicted_iou = 0;
  std::array<double, 2> point_coords{};  // the prompt, original-image pixels
  double stability_score = 0;
  std::array<int64_t, 4> crop_box{};     // XYWH of the crop the mask came from
};

// Where one generate() call spent its time, in seconds.
struct SamGeneratorTimings {
  double encoder = 0;      // set_image on the image and every crop
  double decoder = 0;      // prompt encoder + mask decoder
  double postprocess = 0;  // upscaling, filtering, boxes, NMS, RLE, small regions
};

// Told the fraction of one generate() call done so far, in [0, 1], after each encoder run and
// each batch of prompts; returning false stops the call, which then throws segkit::Cancelled.
using SamGenerateProgress = std::function<bool(double fraction)>;

class SamMaskGenerator {
 public:
  // Error naming the parameter when params are invalid.
  explicit SamMaskGenerator(std::shared_ptr<const SamModel> model, SamGeneratorParams params = {});
  ~SamMaskGenerator();
  SamMaskGenerator(SamMaskGenerator&&) noexcept;
  SamMaskGenerator& operator=(SamMaskGenerator&&) noexcept;

  // No surviving mask gives an empty list.
  std::vector<SamMaskRecord> generate(const Image& image, const SamGenerateProgress& progress = {});
  // The same, reusing the whole image's embedding (SamPredictor::embedding() after set_image on
  // this image) instead of running the encoder on it again; crops are still encoded. Error when
  // the embedding is of another image size or another model.
  std::vector<SamMaskRecord> generate(const Image& image, const SamEmbedding& embedding,
                                      const SamGenerateProgress& progress = {});

  const SamGeneratorParams& params() const;
  const SamGeneratorTimings& last_timings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Upstream's records as JSON text: segmentation as a list of rows of 0/1 (binary_mask),
// {"size": [h, w], "counts": [...]} (uncompressed_rle), or {"size", "counts": "<COCO string>"}.
std::string mask_records_to_json(const std::vector<SamMaskRecord>& records, MaskOutputMode mode);

// Upstream scripts/amg.py folder layout: <i>.png (0/255) per mask and metadata.csv, written
// into `folder` (created; each file atomically).
void write_mask_folder(const std::string& folder, const std::vector<SamMaskRecord>& records);

// The image with every mask blended in its own colour (later masks on top), for a person to look at.
Image render_mask_overlay(const Image& image, const std::vector<SamMaskRecord>& records, double alpha = 0.5);

}  // namespace segkit
