#pragma once
// Parsing JSON that comes from outside (files, checkpoint metadata, request bodies, network
// answers) with limits, so that a hostile input is refused with a one-line Error instead of
// exhausting the stack or memory of whatever walks the parsed value afterwards. Every JSON text
// segkit did not just write itself goes through here (docs/reliability.md).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "segkit/error.h"

namespace segkit {

struct JsonLimits {
  int max_depth = 512;                    // nesting of arrays/objects; real files use < 10
  size_t max_bytes = size_t(4) << 30;     // COCO train annotations are ~0.5 GB

  // Model configs and checkpoint metadata are a few KB; anything far larger is not one.
  static JsonLimits config() {
    JsonLimits l;
    l.max_bytes = size_t(16) << 20;
    return l;
  }
};

// What parse_json throws. syntax_error() is the parser's own description when the text is not
// JSON at all, empty when a limit refused it: for callers that word the message themselves.
class JsonError : public Error {
 public:
  JsonError(const std::string& message, std::string syntax_error)
      : Error(message), syntax_error_(std::move(syntax_error)) {}
  const std::string& syntax_error() const { return syntax_error_; }

 private:
  std::string syntax_error_;
};

// JsonError "<context>: malformed JSON: ..." / "JSON nested deeper than N levels" / "JSON is N
// bytes, more than the limit of M".
nlohmann::json parse_json(const std::string& text, const std::string& context, const JsonLimits& limits = {});
nlohmann::json parse_json(const char* begin, const char* end, const std::string& context, const JsonLimits& limits = {});

// read_text_file + parse_json, the file's path as the context.
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {});

}  // namespace segkit
