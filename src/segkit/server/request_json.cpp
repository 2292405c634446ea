#include "server/request_json.h"

#include <cmath>

#include "core/json_read.h"
#include "server/http_error.h"

namespace segkit::server {

nlohmann::json parse_request_json(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  // The deepest body the API takes is 3 levels ({"points": [[x, y]]}). The size is already
  // bounded by ServerLimits::max_body_bytes (413 before the body is read).
  JsonLimits limits;
  limits.max_depth = 32;
  try {
    return parse_json(body, "request body", limits);
  } catch (const JsonError& e) {
    if (!e.syntax_error().empty()) throw HttpError(400, "request body is not valid JSON: " + e.syntax_error());
    throw HttpError(400, e.what());
  }
}

void bad_field(const std::string& field, const std::string& problem) { throw HttpError(400, field + ": " + problem); }

float probability_field(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number()) bad_field(field, "expected a number between 0 and 1");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d > 1) bad_field(field, "expected a number between 0 and 1");
  return static_cast<float>(d);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace segkit::server
