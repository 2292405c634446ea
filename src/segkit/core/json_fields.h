#pragma once
// Typed, range-checked reads of the fields of outside JSON (configs, checkpoint metadata,
// training state): a wrong value is a one-line Error "<context>: "<key>" must be ...", never an
// exception from the JSON library or an out-of-range conversion (a float like 1e300 read as
// an int). Numbers must be finite; integers must be written as integers.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace segkit {

// The field's value; nullptr where `j` is not an object, lacks the key or holds null there.
const nlohmann::json* json_field(const nlohmann::json* j, const char* key);

// Set `out` when the field is there; leave it alone when it is not.
void read_optional(const nlohmann::json* j, const std::string& context, const char* key, int& out, int64_t lo, int64_t hi);
void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<int>& out,
                   int64_t lo, int64_t hi);
void read_optional(const nlohmann::json* j, const std::string& context, const char* key, double& out);
void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<double>& out);
void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<float>& out);

// The same, and Error "<context>: "<key>" is missing" when the field is not there.
void read_required(const nlohmann::json& j, const std::string& context, const char* key, int& out, int64_t lo, int64_t hi);
void read_required(const nlohmann::json& j, const std::string& context, const char* key, int64_t& out, int64_t lo, int64_t hi);
void read_required(const nlohmann::json& j, const std::string& context, const char* key, double& out);
void read_required(const nlohmann::json& j, const std::string& context, const char* key, std::vector<double>& out);
void read_required(const nlohmann::json& j, const std::string& context, const char* key, std::vector<float>& out);

}  // namespace segkit
