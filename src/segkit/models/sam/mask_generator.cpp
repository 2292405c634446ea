// SamMaskGenerator: upstream SamAutomaticMaskGenerator, step for step, with changes of cost
// only, not of result: masks are upscaled to the crop's size only after the predicted-IoU filter,
// in small chunks (bounded memory, discarded masks cost nothing), and stability score, threshold
// and box come from one pass over the upscaled logits.

#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/logical_not.h>
#include <ATen/ops/nonzero.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/torch_parallel.h"
#include "models/device.h"
#include "models/sam/crop_boxes.h"
#include "models/sam/point_grid.h"
#include "models/sam/predictor_torch.h"
#include "models/sam/sam_model_impl.h"
#include "postprocess/box_nms.h"
#include "postprocess/mask_boxes.h"
#include "postprocess/mask_measure.h"
#include "postprocess/small_regions.h"
#include "segkit/error.h"
#include "segkit/sam_generator.h"

namespace segkit {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A mask that survived its batch's filters, in upstream's MaskData fields.
struct Candidate {
  Rle rle;                          // original image size
  std::array<int64_t, 4> box{};     // XYXY, crop frame until the crop is done, then image frame
  float iou = 0, stability = 0;
  std::array<double, 2> point{};    // crop frame until the crop is done, then image frame
  std::array<int64_t, 4> crop{};    // XYXY
};

// Masks upscaled at a time: bounds memory at chunk × crop pixels × 4 bytes.
constexpr int64_t kUpscaleChunk = 16;

Image crop_image(const Image& image, const std::array<int64_t, 4>& box) {
  Image out;
  out.width = static_cast<int>(box[2] - box[0]);
  out.height = static_cast<int>(box[3] - box[1]);
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y) {
    std::memcpy(out.rgb.data() + static_cast<size_t>(y) * out.width * 3,
                image.pixel(static_cast<int>(box[0]), static_cast<int>(box[1]) + y), static_cast<size_t>(out.width) * 3);
  }
  return out;
}

std::vector<Rle> encode_masks(const at::Tensor& masks) {
  const at::Tensor m = masks.contiguous();
  const int64_t n = m.size(0), h = m.size(1), w = m.size(2);
  std::vector<Rle> rles(static_cast<size_t>(n));
  const uint8_t* data = models::bool_bytes(m);
  torch_parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) rles[size_t(i)] = rle_encode(data + i * h * w, h, w);
  });
  return rles;
}

at::Tensor boxes_tensor(const std::vector<Candidate>& c, bool crop) {
  at::Tensor t = at::empty({int64_t(c.size()), 4}, at::kLong);
  int64_t* p = t.data_ptr<int64_t>();
  for (const auto& x : c) {
    const auto& b = crop ? x.crop : x.box;
    p = std::copy(b.begin(), b.end(), p);
  }
  return t;
}

std::vector<Candidate> select(std::vector<Candidate>& c, const at::Tensor& keep) {
  const at::Tensor k = keep.contiguous();
  std::vector<Candidate> out;
  out.reserve(size_t(k.numel()));
  for (int64_t i = 0; i < k.numel(); ++i) out.push_back(std::move(c[size_t(k.data_ptr<int64_t>()[i])]));
  return out;
}

// Hands the C heap's freed blocks back to the system: the candidates of thousands of full-size
// masks leave hundreds of MB free in malloc's arenas, which a folder run or a server would
// otherwise keep resident from image to image.
void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

std::array<int64_t, 4> xyxy_to_xywh(const std::array<int64_t, 4>& b) { return {b[0], b[1], b[2] - b[0], b[3] - b[1]}; }

}  // namespace

const std::vector<SamGeneratorParamField>& sam_generator_param_fields() {
  using P = SamGeneratorParams;
  static const std::vector<SamGeneratorParamField> fields = {
      {"points_per_side", "Grid of N×N point prompts", &P::points_per_side, nullptr},
      {"points_per_batch", "Prompts decoded together", &P::points_per_batch, nullptr},
      {"pred_iou_thresh", "Keep masks with predicted IoU above this", nullptr, &P::pred_iou_thresh},
      {"stability_score_thresh", "Keep masks at least this stable", nullptr, &P::stability_score_thresh},
      {"stability_score_offset", "Logit offset of the stability score", nullptr, &P::stability_score_offset},
      {"box_nms_thresh", "Box IoU for duplicates within a crop", nullptr, &P::box_nms_thresh},
      {"crop_n_layers", "Layers of image crops (layer i: (2^i)² crops)", &P::crop_n_layers, nullptr},
      {"crop_nms_thresh", "Box IoU for duplicates between crops", nullptr, &P::crop_nms_thresh},
      {"crop_overlap_ratio", "Overlap of first-layer crops", nullptr, &P::crop_overlap_ratio},
      {"crop_n_points_downscale_factor", "Points per side shrink by this per crop layer",
       &P::crop_n_points_downscale_factor, nullptr},
      {"min_mask_region_area", "Fill holes and drop islands smaller than this", &P::min_mask_region_area, nullptr},
  };
  return fields;
}

void SamGeneratorParams::validate() const {
  auto need = [](bool ok, const char* name, const std::string& what) {
    if (!ok) fail(name, what);
  };
  auto str = [](double v) { return std::to_string(v); };
  need(points_per_side >= 1, "points_per_side", "must be at least 1, got " + std::to_string(points_per_side));
  need(points_per_batch >= 1, "points_per_batch", "must be at least 1, got " + std::to_string(points_per_batch));
  need(std::isfinite(pred_iou_thresh), "pred_iou_thresh", "must be a finite number");
  need(stability_score_thresh >= 0 && stability_score_thresh <= 1, "stability_score_thresh",
       "must be in [0, 1], got " + str(stability_score_thresh));
  need(stability_score_offset >= 0 && std::isfinite(stability_score_offset), "stability_score_offset",
       "must be a finite number >= 0, got " + str(stability_score_offset));
  need(box_nms_thresh >= 0 && box_nms_thresh <= 1, "box_nms_thresh", "must be in [0, 1], got " + str(box_nms_thresh));
  need(crop_nms_thresh >= 0 && crop_nms_thresh <= 1, "crop_nms_thresh", "must be in [0, 1], got " + str(crop_nms_thresh));
  need(crop_n_layers >= 0 && crop_n_layers <= 8, "crop_n_layers", "must be in [0, 8], got " + std::to_string(crop_n_layers));
  need(crop_overlap_ratio >= 0 && crop_overlap_ratio < 1, "crop_overlap_ratio",
       "must be in [0, 1), got " + str(crop_overlap_ratio));
  need(crop_n_points_downscale_factor >= 1, "crop_n_points_downscale_factor",
       "must be at least 1, got " + std::to_string(crop_n_points_downscale_factor));
  need(min_mask_region_area >= 0, "min_mask_region_area", "must be >= 0, got " + std::to_string(min_mask_region_area));
  double last_layer = points_per_side;
  for (int i = 0; i < crop_n_layers; ++i) last_layer /= crop_n_points_downscale_factor;
  need(last_layer >= 1, "crop_n_points_downscale_factor",
       "leaves crop layer " + std::to_string(crop_n_layers) + " without points (points_per_side " +
           std::to_string(points_per_side) + " / " + std::to_string(crop_n_points_downscale_factor) + "^" +
           std::to_string(crop_n_layers) + " < 1)");
}

struct SamMaskGenerator::Impl {
  SamPredictor predictor;
  SamGeneratorParams params;
  std::vector<at::Tensor> point_grids;
  SamGeneratorTimings timings;

  // Progress of the call in flight, in units of one prompt batch.
  const SamGenerateProgress* progress = nullptr;
  int64_t units_done = 0, units_total = 1;

  // On CPU one encoder run costs about as much as eight batches of 64 prompts.
  static constexpr int64_t kEncoderUnits = 8;

  void advance(int64_t units) {
    units_done += units;
    if (progress && *progress && !(*progress)(std::min(1.0, double(units_done) / double(units_total))))
      throw Cancelled("generate: cancelled");
  }

  int64_t batches_in(const amg::CropBox& crop) const {
    const int64_t points = point_grids[size_t(crop.layer)].size(0);
    return (points + params.points_per_batch - 1) / params.points_per_batch;
  }

  Impl(std::shared_ptr<const SamModel> model, SamGeneratorParams p) : predictor(std::move(model)), params(p) {
    params.validate();
    point_grids = amg::build_all_layer_point_grids(params.points_per_side, params.crop_n_layers,
                                                   params.crop_n_points_downscale_factor);
  }

  // Upstream _process_batch: points are B×2 float64 in the crop frame.
  void process_batch(const at::Tensor& points, const amg::CropBox& crop, std::array<int, 2> orig_size,
                     std::vector<Candidate>& out) {
    const SamConfig& config = predictor.model().config();
    const auto crop_size = predictor.original_size();
    auto t = Clock::now();
    const at::Tensor coords = sam::apply_coords(points, crop_size, config.image_size).to(at::kFloat).unsqueeze(1);
    const at::Tensor labels = at::ones({coords.size(0), coords.size(1)}, at::kInt);
    // Masks below the IoU filter are dropped unseen: the decoder need not upscale them.
    const double filter = params.pred_iou_thresh > 0.0 ? params.pred_iou_thresh : -std::numeric_limits<double>::infinity();
    auto [device_low_res, device_iou] =
        sam::decode_low_res(predictor, coords, labels, at::Tensor(), at::Tensor(), /*multimask=*/true, filter);
    // The rest (upscaling, stability, boxes, NMS, RLE) runs on the host.
    at::Tensor low_res = models::to_host(device_low_res), iou = models::to_host(device_iou);
    timings.decoder += seconds_since(t);
    t = Clock::now();

    const int64_t per_point = low_res.size(1);
    low_res = low_res.flatten(0, 1);
    iou = iou.flatten(0, 1).contiguous();
    const at::Tensor xy = points.contiguous();
    at::Tensor survivors = params.pred_iou_thresh > 0.0 ? at::nonzero(at::gt(iou, params.pred_iou_thresh)).select(1, 0)
                                                        : at::arange(iou.size(0), at::kLong);
    const std::array<int64_t, 4> image_box{0, 0, orig_size[1], orig_size[0]};
    for (int64_t start = 0; start < survivors.size(0); start += kUpscaleChunk) {
      at::Tensor idx = survivors.slice(0, start, std::min(start + kUpscaleChunk, survivors.size(0)));
      at::Tensor logits = sam::postprocess_masks(low_res.index_select(0, idx), config.image_size, predictor.input_size(), crop_size);
      // Stability, thresholded masks and boxes in one pass (as upstream's separate steps).
      amg::MeasuredMasks measured = amg::measure_masks(logits, config.mask_threshold, params.stability_score_offset);
      logits = at::Tensor();
      at::Tensor stability = measured.stability, masks = measured.masks, boxes = measured.boxes;
      if (params.stability_score_thresh > 0.0) {
        const at::Tensor keep = at::nonzero(stability.ge(params.stability_score_thresh)).select(1, 0);
        if (keep.numel() != idx.numel()) {
          idx = idx.index_select(0, keep);
          stability = stability.index_select(0, keep);
          masks = masks.index_select(0, keep);
          boxes = boxes.index_select(0, keep);
        }
      }
      if (idx.numel() == 0) continue;
      const at::Tensor keep = at::nonzero(at::logical_not(amg::is_box_near_crop_edge(boxes, crop.xyxy, image_box))).select(1, 0);
      if (keep.numel() != idx.numel()) {
        idx = idx.index_select(0, keep);
        masks = masks.index_select(0, keep);
        boxes = boxes.index_select(0, keep);
        stability = stability.index_select(0, keep);
      }
      if (idx.numel() == 0) continue;
      std::vector<Rle> rles = encode_masks(amg::uncrop_masks(masks, crop.xyxy, orig_size[0], orig_size[1]));
      const at::Tensor b = boxes.contiguous(), s = stability.contiguous(), ix = idx.contiguous();
      for (int64_t i = 0; i < ix.numel(); ++i) {
        Candidate c;
        c.rle = std::move(rles[size_t(i)]);
        std::copy(b.data_ptr<int64_t>() + 4 * i, b.data_ptr<int64_t>() + 4 * i + 4, c.box.begin());
        const int64_t flat = ix.data_ptr<int64_t>()[i];
        c.iou = iou.data_ptr<float>()[flat];
        c.stability = s.data_ptr<float>()[i];
        const int64_t point = flat / per_point;
        c.point = {xy.data_ptr<double>()[2 * point], xy.data_ptr<double>()[2 * point + 1]};
        c.crop = crop.xyxy;
        out.push_back(std::move(c));
      }
    }
    timings.postprocess += seconds_since(t);
  }

  // Upstream _process_crop.
  std::vector<Candidate> process_crop(const Image& image, const amg::CropBox& crop, const SamEmbedding* embedding) {
    auto t = Clock::now();
    const bool whole = crop.xyxy[0] == 0 && crop.xyxy[1] == 0 && crop.xyxy[2] == image.width && crop.xyxy[3] == image.height;
    if (whole && embedding) predictor.set_embedding(*embedding);
    else if (whole) predictor.set_image(image);
    else predictor.set_image(crop_image(image, crop.xyxy));
    timings.encoder += seconds_since(t);
    advance(whole && embedding ? 0 : kEncoderUnits);

    const auto [crop_h, crop_w] = predictor.original_size();
    const at::Tensor scale = at::tensor(std::vector<double>{double(crop_w), double(crop_h)}).unsqueeze(0);
    const at::Tensor points = point_grids[size_t(crop.layer)].mul(scale);
    std::vector<Candidate> data;
    for (int64_t start = 0; start < points.size(0); start += params.points_per_batch) {
      process_batch(points.slice(0, start, std::min(start + int64_t(params.points_per_batch), points.size(0))), crop,
                    {image.height, image.width}, data);
      advance(1);
    }

    t = Clock::now();
    const at::Tensor boxes = boxes_tensor(data, false).to(at::kFloat);
    at::Tensor scores = at::empty({int64_t(data.size())}, at::kFloat);
    for (size_t i = 0; i < data.size(); ++i) scores.data_ptr<float>()[i] = data[i].iou;
    data = select(data, amg::batched_nms(boxes, scores, at::zeros({boxes.size(0)}, at::kLong), params.box_nms_thresh));
    for (auto& c : data) {  // back to the image frame
      c.box = {c.box[0] + crop.xyxy[0], c.box[1] + crop.xyxy[1], c.box[2] + crop.xyxy[0], c.box[3] + crop.xyxy[1]};
      c.point = {c.point[0] + double(crop.xyxy[0]), c.point[1] + double(crop.xyxy[1])};
    }
    timings.postprocess += seconds_since(t);
    return data;
  }

  // Upstream postprocess_small_regions: fill small holes, drop small islands, then NMS again,
  // preferring masks that needed no change.
  std::vector<Candidate> remove_small_regions(std::vector<Candidate> data, const Image& image) {
    if (data.empty()) return data;
    const int h = image.height, w = image.width;
    const double area = params.min_mask_region_area;
    std::vector<std::vector<uint8_t>> masks(data.size());
    std::vector<float> unchanged(data.size());
    std::vector<std::array<int64_t, 4>> boxes(data.size());
    torch_parallel_for(0, int64_t(data.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        std::vector<uint8_t> m = rle_decode(data[size_t(i)].rle);
        const bool holes = amg::remove_small_regions(m, h, w, area, amg::RegionMode::Holes);
        const bool islands = amg::remove_small_regions(m, h, w, area, amg::RegionMode::Islands);
        unchanged[size_t(i)] = (holes || islands) ? 0.0f : 1.0f;
        boxes[size_t(i)] = amg::mask_to_box(m.data(), h, w);
        masks[size_t(i)] = std::move(m);
      }
    });
    const at::Tensor scores = at::from_blob(unchanged.data(), {int64_t(unchanged.size())}, at::kFloat);
    const at::Tensor box_tensor = at::from_blob(boxes.data(), {int64_t(boxes.size()), 4}, at::kLong).to(at::kFloat);
    const double thresh = std::max(params.box_nms_thresh, params.crop_nms_thresh);
    const at::Tensor keep = amg::batched_nms(box_tensor, scores, at::zeros({box_tensor.size(0)}, at::kLong), thresh);
    for (int64_t k = 0; k < keep.numel(); ++k) {
      const size_t i = size_t(keep.data_ptr<int64_t>()[k]);
      if (unchanged[i] == 0.0f) {
        data[i].rle = rle_encode(masks[i].data(), h, w);
        data[i].box = boxes[i];
      }
    }
    return select(data, keep);
  }

  std::vector<SamMaskRecord> generate(const Image& image, const SamEmbedding* embedding, const SamGenerateProgress& report) {
    if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * image.height * 3)
      fail("generate", "empty or malformed image");
    if (embedding && (embedding->original_width != image.width || embedding->original_height != image.height))
      fail("generate", "the embedding is of a " + std::to_string(embedding->original_width) + "x" +
                           std::to_string(embedding->original_height) + " image, not of this " +
                           std::to_string(image.width) + "x" + std::to_string(image.height) + " one");
    c10::InferenceMode guard;
    timings = {};
    const auto crops = amg::generate_crop_boxes(image.height, image.width, params.crop_n_layers, params.crop_overlap_ratio);
    progress = &report;
    units_done = 0;
    units_total = 0;
    for (const auto& crop : crops) units_total += (crop.layer == 0 && embedding ? 0 : kEncoderUnits) + batches_in(crop);
    std::vector<Candidate> data;
    for (const auto& crop : crops) {
      std::vector<Candidate> c = process_crop(image, crop, embedding);
      std::move(c.begin(), c.end(), std::back_inserter(data));
    }
    progress = nullptr;
    auto t = Clock::now();
    if (crops.size() > 1 && !data.empty()) {  // duplicates between crops: the smaller crop wins
      const at::Tensor crop_boxes = boxes_tensor(data, true);
      const at::Tensor crop_area = crop_boxes.select(1, 2).sub(crop_boxes.select(1, 0)).mul(crop_boxes.select(1, 3).sub(crop_boxes.select(1, 1)));
      const at::Tensor keep = amg::batched_nms(boxes_tensor(data, false).to(at::kFloat), at::reciprocal(crop_area),
                                               at::zeros({crop_boxes.size(0)}, at::kLong), params.crop_nms_thresh);
      data = select(data, keep);
    }
    if (params.min_mask_region_area > 0) data = remove_small_regions(std::move(data), image);

    std::vector<SamMaskRecord> records;
    records.reserve(data.size());
    for (auto& c : data) {
      SamMaskRecord r;
      r.area = static_cast<int64_t>(rle_area(c.rle));
      r.segmentation = std::move(c.rle);
      r.bbox = xyxy_to_xywh(c.box);
      r.predicted_iou = c.iou;
      r.point_coords = c.point;
      r.stability_score = c.stability;
      r.crop_box = xyxy_to_xywh(c.crop);
      records.push_back(std::move(r));
    }
    timings.postprocess += seconds_since(t);
    return records;
  }
};

SamMaskGenerator::SamMaskGenerator(std::shared_ptr<const SamModel> model, SamGeneratorParams params)
    : impl_(std::make_unique<Impl>(std::move(model), params)) {}
SamMaskGenerator::~SamMaskGenerator() = default;
SamMaskGenerator::SamMaskGenerator(SamMaskGenerator&&) noexcept = default;
SamMaskGenerator& SamMaskGenerator::operator=(SamMaskGenerator&&) noexcept = default;

std::vector<SamMaskRecord> SamMaskGenerator::generate(const Image& image, const SamGenerateProgress& progress) {
  std::vector<SamMaskRecord> records = impl_->generate(image, nullptr, progress);
  release_free_heap();
  return records;
}
std::vector<SamMaskRecord> SamMaskGenerator::generate(const Image& image, const SamEmbedding& embedding,
                                                      const SamGenerateProgress& progress) {
  std::vector<SamMaskRecord> records = impl_->generate(image, &embedding, progress);
  release_free_heap();
  return records;
}
const SamGeneratorParams& SamMaskGenerator::params() const { return impl_->params; }
const SamGeneratorTimings& SamMaskGenerator::last_timings() const { return impl_->timings; }

}  // namespace segkit
