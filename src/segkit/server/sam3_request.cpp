#include "server/sam3_request.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "server/http_error.h"
#include "server/request_json.h"

namespace segkit::server {

namespace {


std::string phrase(const nlohmann::json& v, const std::string& field) {
  if (!v.is_string()) bad_field(field, "expected a phrase (a string)");
  const std::string s = v.get<std::string>();
  if (s.size() > 1000) bad_field(field, "longer than 1000 bytes");
  return s;
}

}  // namespace

Sam3Request parse_sam3_request(const std::string& body, int max_prompts) {
  Sam3Request out;
  const nlohmann::json j = parse_request_json(body);
  if (!j.is_object()) bad_field("request body", "expected a JSON object");
  std::vector<std::string> texts;
  Sam3Prompt exemplars;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "text") {
      if (v.is_array()) {
        if (v.empty() || static_cast<int>(v.size()) > max_prompts)
          bad_field(key, "expected 1 to " + std::to_string(max_prompts) + " phrases");
        for (size_t i = 0; i < v.size(); ++i) texts.push_back(phrase(v[i], key + "[" + std::to_string(i) + "]"));
      } else {
        texts.push_back(phrase(v, key));
      }
    } else if (key == "boxes") {
      if (!v.is_array() || static_cast<int>(v.size()) > max_prompts)
        bad_field(key, "expected a list of at most " + std::to_string(max_prompts) + " boxes [x0, y0, x1, y1]");
      for (size_t i = 0; i < v.size(); ++i) {
        const nlohmann::json& b = v[i];
        const std::string field = key + "[" + std::to_string(i) + "]";
        if (!b.is_array() || b.size() != 4 || !std::all_of(b.begin(), b.end(), [](const nlohmann::json& x) {
              return x.is_number() && std::isfinite(x.get<double>());
            }))
          bad_field(field, "expected [x0, y0, x1, y1] in image pixels");
        exemplars.boxes.push_back({b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()});
      }
    } else if (key == "box_labels") {
      if (!v.is_array()) bad_field(key, "expected a list of 1 (positive) and 0 (negative)");
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer() || (v[i].get<int64_t>() != 0 && v[i].get<int64_t>() != 1))
          bad_field(key + "[" + std::to_string(i) + "]", "expected 1 (positive) or 0 (negative)");
        exemplars.box_labels.push_back(static_cast<int>(v[i].get<int64_t>()));
      }
    } else if (key == "threshold") {
      out.options.threshold = probability_field(v, key);
    } else if (key == "mask_threshold") {
      out.options.mask_threshold = probability_field(v, key);
    } else if (key == "model") {
      if (v.is_null()) continue;
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 200)
        bad_field("model", "expected the name of a hosted model (GET /v1/models)");
      out.model = v.get<std::string>();
    } else {
      bad_field(key, "unknown field (expected text, boxes, box_labels, threshold, mask_threshold, model)");
    }
  }
  if (!exemplars.box_labels.empty() && exemplars.box_labels.size() != exemplars.boxes.size())
    bad_field("box_labels", std::to_string(exemplars.box_labels.size()) + " labels for " +
                          std::to_string(exemplars.boxes.size()) + " boxes");
  if (texts.empty() && exemplars.boxes.empty()) bad_field("text", "give a phrase (or exemplar boxes)");
  if (texts.empty()) {
    out.prompts.push_back(exemplars);
  } else {
    for (const std::string& t : texts) {
      Sam3Prompt p = exemplars;
      p.text = t;
      out.prompts.push_back(std::move(p));
    }
  }
  return out;
}

bool is_sam3_request(const std::string& body, const std::vector<std::string>& sam3_models) {
  nlohmann::json j;
  try {
    j = parse_request_json(body);  // depth-limited: a deeply nested body cannot exhaust the stack
  } catch (const HttpError&) {
    return false;
  }
  if (!j.is_object()) return false;
  if (j.contains("text")) return true;
  const auto model = j.find("model");
  return model != j.end() && model->is_string() &&
         std::find(sam3_models.begin(), sam3_models.end(), model->get<std::string>()) != sam3_models.end();
}

}  // namespace segkit::server
