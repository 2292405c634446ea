#pragma once
// Parsing JSON that comes from users (configs, prompts, annotation files) with limits, so
// that a hostile file is refused with a one-line Error instead of exhausting the stack or
// memory of whatever walks the parsed value afterwards.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace segkit {

struct JsonLimits {
  int max_depth = 512;                    // nesting of arrays/objects; real files use < 10
  size_t max_bytes = size_t(4) << 30;     // COCO train annotations are ~0.5 GB
};

// Error "<context>: malformed JSON: ..." / "nested deeper than N levels" / "larger than N bytes".
nlohmann::json parse_json(const std::string& text, const std::string& context, const JsonLimits& limits = {});
nlohmann::json parse_json(const char* begin, const char* end, const std::string& context, const JsonLimits& limits = {});

// read_text_file + parse_json.
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {});

}  // namespace segkit
