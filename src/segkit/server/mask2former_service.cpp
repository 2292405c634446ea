#include "server/mask2former_service.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "segkit/image.h"
#include "segkit/rle.h"
#include "server/http_error.h"
#include "server/request_json.h"
#include "server/segment_request.h"

namespace segkit::server {

using nlohmann::json;

namespace {

// One segment's record: its mask as a column-major COCO compressed RLE with area and box.
json segment_json(const Segment& s, const std::vector<uint8_t>& mask, const Segmentation& result,
                  const std::vector<std::string>& labels, const std::vector<int>& stuff) {
  const Rle rle = rle_encode(mask.data(), result.height, result.width);
  const auto bbox = rle_bbox(rle);
  json j{{"id", s.id},
         {"label_id", s.label_id},
         {"label", s.label_id >= 0 && s.label_id < static_cast<int>(labels.size()) ? labels[s.label_id] : ""},
         {"score", std::round(double(s.score) * 1e6) / 1e6},  // as the model rounds it, without float noise
         {"was_fused", s.was_fused},
         {"area", rle_area(rle)},
         {"bbox", {bbox[0], bbox[1], bbox[2], bbox[3]}},
         {"segmentation", {{"size", {result.height, result.width}}, {"counts", rle_to_string(rle)}}}};
  // As COCO panoptic: a label is a thing unless it is fused (stuff).
  if (result.task == SegmentationTask::Panoptic)
    j["isthing"] = std::find(stuff.begin(), stuff.end(), s.label_id) == stuff.end();
  return j;
}

json segmentation_json(const Segmentation& result, const std::vector<std::string>& labels, const std::vector<int>& stuff) {
  const size_t plane = static_cast<size_t>(result.height) * result.width;
  json segments = json::array();
  std::vector<uint8_t> mask(plane);
  for (size_t k = 0; k < result.segments.size(); ++k) {
    const Segment& s = result.segments[k];
    if (result.task == SegmentationTask::Instance) {
      // Instances may overlap: each has its own mask, ids only shows the one on top.
      std::copy_n(result.instance_masks.begin() + k * plane, plane, mask.begin());
    } else {
      for (size_t i = 0; i < plane; ++i) mask[i] = result.ids[i] == s.id;
    }
    segments.push_back(segment_json(s, mask, result, labels, stuff));
  }
  return segments;
}

}  // namespace

Mask2FormerService::Mask2FormerService(std::vector<NamedMask2Former> models, std::vector<std::string> other_models,
                                       const ServerLimits& limits, EmbeddingStore& store, JobRegistry& jobs)
    : models_(std::move(models)), other_models_(std::move(other_models)), limits_(limits), store_(store), jobs_(jobs) {}

std::vector<Route> Mask2FormerService::routes() {
  return {
      {"POST", R"(/v1/images/([^/]+)/segment)",
       [this](const httplib::Request& req, httplib::Response& res, const std::string& body) { segment(req, res, body); }},
  };
}

const NamedMask2Former& Mask2FormerService::model_named(const std::string& name) const {
  if (models_.empty())
    throw HttpError(404, "this server hosts no Mask2Former model (start segkit serve with -m MASK2FORMER_MODEL)");
  if (name.empty()) return models_.front();
  for (const auto& m : models_)
    if (m.name == name) return m;
  if (std::find(other_models_.begin(), other_models_.end(), name) != other_models_.end())
    throw HttpError(400, "model: " + name + " is not a Mask2Former model (segment needs one)");
  std::vector<std::string> names;
  for (const auto& m : models_) names.push_back(m.name);
  throw HttpError(404, "model: no model named " + name + " is hosted (Mask2Former models: " + join_names(names) + ")");
}

void Mask2FormerService::segment(const httplib::Request& req, httplib::Response& res, const std::string& body) {
  const std::string id = req.matches[1];
  const SegmentRequest r = parse_segment_request(body);
  const NamedMask2Former& hosted = model_named(r.model);
  const Mask2FormerModel& model = *hosted.model;
  const int num_labels = static_cast<int>(model.labels().size());
  for (int label : r.options.label_ids_to_fuse)
    if (label >= num_labels)
      throw HttpError(400, "label_ids_to_fuse: label " + std::to_string(label) + " is not one of the model's 0.." +
                               std::to_string(num_labels - 1));
  auto img = store_.find(id);
  if (!img) throw HttpError(404, "image " + id + " is not in the cache (unknown, or evicted): upload it again");

  Segmentation result;
  // The model is the heaviest thing the server runs: it takes one of the --max-jobs slots.
  jobs_.run_now([&](JobControl&) {
    const Image image = decode_image(reinterpret_cast<const uint8_t*>(img->encoded.data()), img->encoded.size(), "image",
                                     ImageLimits{limits_.max_image_pixels});
    result = model.segment(image, r.task, r.options);
    return std::string();
  });
  send_json(res, {{"task", segmentation_task_name(r.task)},
                  {"model", hosted.name},
                  {"image_id", id},
                  {"width", result.width},
                  {"height", result.height},
                  {"segments", segmentation_json(result, model.labels(), r.options.label_ids_to_fuse)}});
}

}  // namespace segkit::server
