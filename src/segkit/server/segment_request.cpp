#include "server/segment_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "server/http_error.h"
#include "server/request_json.h"

namespace segkit::server {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& problem) { throw HttpError(400, field + ": " + problem); }

float probability(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number()) bad(field, "expected a number between 0 and 1");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d > 1) bad(field, "expected a number between 0 and 1");
  return static_cast<float>(d);
}

}  // namespace

SegmentRequest parse_segment_request(const std::string& body) {
  SegmentRequest out;
  // Every segment the server sends needs an id of its own (transformers' ids can collide).
  out.options.transformers_ids = false;
  const nlohmann::json j = parse_request_json(body);
  if (!j.is_object()) bad("request body", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "task") {
      const std::string expected = "expected \"semantic\", \"instance\" or \"panoptic\"";
      if (!v.is_string()) bad("task", expected);
      const std::string name = v.get<std::string>();
      if (name == "semantic") out.task = SegmentationTask::Semantic;
      else if (name == "instance") out.task = SegmentationTask::Instance;
      else if (name == "panoptic") out.task = SegmentationTask::Panoptic;
      else bad("task", expected);
    } else if (key == "model") {
      if (v.is_null()) continue;
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 200)
        bad("model", "expected the name of a hosted model (GET /v1/models)");
      out.model = v.get<std::string>();
    } else if (key == "threshold") {
      out.options.threshold = probability(v, key);
    } else if (key == "mask_threshold") {
      out.options.mask_threshold = probability(v, key);
    } else if (key == "overlap_mask_area_threshold") {
      out.options.overlap_mask_area_threshold = probability(v, key);
    } else if (key == "label_ids_to_fuse") {
      if (!v.is_array()) bad(key, "expected a list of label ids");
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() > 1'000'000)
          bad(key + "[" + std::to_string(i) + "]", "expected a label id");
        out.options.label_ids_to_fuse.push_back(static_cast<int>(v[i].get<int64_t>()));
      }
    } else {
      bad(key, "unknown field (expected task, model, threshold, mask_threshold, overlap_mask_area_threshold, "
               "label_ids_to_fuse)");
    }
  }
  return out;
}

}  // namespace segkit::server
