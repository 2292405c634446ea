#include "server/segment_request.h"

#include <nlohmann/json.hpp>

#include "server/request_json.h"

namespace segkit::server {

SegmentRequest parse_segment_request(const std::string& body) {
  SegmentRequest out;
  // Every segment the server sends needs an id of its own (transformers' ids can collide).
  out.options.transformers_ids = false;
  const nlohmann::json j = parse_request_json(body);
  if (!j.is_object()) bad_field("request body", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "task") {
      const std::string expected = "expected \"semantic\", \"instance\" or \"panoptic\"";
      if (!v.is_string()) bad_field("task", expected);
      const std::string name = v.get<std::string>();
      if (name == "semantic") out.task = SegmentationTask::Semantic;
      else if (name == "instance") out.task = SegmentationTask::Instance;
      else if (name == "panoptic") out.task = SegmentationTask::Panoptic;
      else bad_field("task", expected);
    } else if (key == "model") {
      if (v.is_null()) continue;
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 200)
        bad_field("model", "expected the name of a hosted model (GET /v1/models)");
      out.model = v.get<std::string>();
    } else if (key == "threshold") {
      out.options.threshold = probability_field(v, key);
    } else if (key == "mask_threshold") {
      out.options.mask_threshold = probability_field(v, key);
    } else if (key == "overlap_mask_area_threshold") {
      out.options.overlap_mask_area_threshold = probability_field(v, key);
    } else if (key == "label_ids_to_fuse") {
      if (!v.is_array()) bad_field(key, "expected a list of label ids");
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() > 1'000'000)
          bad_field(key + "[" + std::to_string(i) + "]", "expected a label id");
        out.options.label_ids_to_fuse.push_back(static_cast<int>(v[i].get<int64_t>()));
      }
    } else {
      bad_field(key, "unknown field (expected task, model, threshold, mask_threshold, overlap_mask_area_threshold, "
               "label_ids_to_fuse)");
    }
  }
  return out;
}

}  // namespace segkit::server
