#include "server/predict_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "server/http_error.h"
#include "server/request_json.h"

namespace segkit::server {

namespace {

float finite_number(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number()) bad_field(field, "expected a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 1e7) bad_field(field, "number out of range");
  return static_cast<float>(d);
}

}  // namespace

PredictRequest parse_predict_request(const std::string& body, int max_points) {
  PredictRequest out;
  const nlohmann::json j = parse_request_json(body);
  if (!j.is_object()) bad_field("request body", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "points") {
      if (!v.is_array()) bad_field("points", "expected a list of [x, y]");
      if (static_cast<int64_t>(v.size()) > max_points)
        bad_field("points", std::to_string(v.size()) + " points is more than the limit of " + std::to_string(max_points));
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string f = "points[" + std::to_string(i) + "]";
        if (!v[i].is_array() || v[i].size() != 2) bad_field(f, "expected [x, y]");
        out.prompt.points.push_back({finite_number(v[i][0], f), finite_number(v[i][1], f)});
      }
    } else if (key == "labels") {
      if (!v.is_array()) bad_field("labels", "expected a list of 0 (background) or 1 (foreground)");
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer() || (v[i].get<int64_t>() != 0 && v[i].get<int64_t>() != 1))
          bad_field("labels[" + std::to_string(i) + "]", "expected 0 (background) or 1 (foreground)");
        out.prompt.labels.push_back(v[i].get<int>());
      }
    } else if (key == "box") {
      if (v.is_null()) continue;
      if (!v.is_array() || v.size() != 4) bad_field("box", "expected [x0, y0, x1, y1]");
      std::array<float, 4> b{};
      for (size_t i = 0; i < 4; ++i) b[i] = finite_number(v[i], "box");
      if (b[2] < b[0] || b[3] < b[1]) bad_field("box", "expected x0 <= x1 and y0 <= y1");
      out.prompt.box = b;
    } else if (key == "multimask") {
      if (!v.is_boolean()) bad_field("multimask", "expected true or false");
      out.prompt.multimask = v.get<bool>();
    } else if (key == "mask_input_id") {
      if (v.is_null()) continue;
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 64)
        bad_field("mask_input_id", "expected the mask_input_id of an earlier prediction");
      out.mask_input_id = v.get<std::string>();
    } else {
      bad_field(key, "unknown field (expected points, labels, box, multimask, mask_input_id)");
    }
  }
  if (out.prompt.labels.empty()) out.prompt.labels.assign(out.prompt.points.size(), 1);
  if (out.prompt.labels.size() != out.prompt.points.size())
    bad_field("labels", std::to_string(out.prompt.labels.size()) + " labels for " + std::to_string(out.prompt.points.size()) +
                      " points");
  return out;
}

}  // namespace segkit::server
