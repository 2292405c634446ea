#pragma once
// The JSON bodies of the server's requests, through core/json_read's limits like every other
// JSON segkit reads.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace segkit::server {

// An empty (or whitespace-only) body is {}. HttpError 400 when the body is not JSON or is
// nested deeper than any request needs.
nlohmann::json parse_request_json(const std::string& body);

// HttpError 400 "<field>: <problem>".
[[noreturn]] void bad_field(const std::string& field, const std::string& problem);
// A number between 0 and 1 (a threshold); bad_field otherwise.
float probability_field(const nlohmann::json& value, const std::string& field);
// "a, b, c": the hosted models' names in messages.
std::string join_names(const std::vector<std::string>& names);

}  // namespace segkit::server
