#pragma once
// The JSON bodies of the server's requests, through core/json_read's limits like every other
// JSON segkit reads.
#include <nlohmann/json.hpp>
#include <string>

namespace segkit::server {

// An empty (or whitespace-only) body is {}. HttpError 400 when the body is not JSON or is
// nested deeper than any request needs.
nlohmann::json parse_request_json(const std::string& body);

}  // namespace segkit::server
