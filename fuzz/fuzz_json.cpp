// The JSON reader every outside JSON goes through (core/json_read.h) and the server's request
// body reader built on it. The first byte picks the limits (so that the depth and size refusals
// are reached with small inputs), the rest is the text. A refusal must be a one-line JsonError
// naming the context; an accepted value must lie within the limits; a request body must give
// a value or a 400.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/json_read.h"
#include "fuzz_util.h"
#include "server/http_error.h"
#include "server/request_json.h"

namespace {

// The deepest nesting of any value: the number of arrays/objects around it, as parse_json's
// limit counts (an empty container counts as a value at its own level).
int nesting(const nlohmann::json& root) {
  int deepest = 0;
  std::vector<std::pair<const nlohmann::json*, int>> todo{{&root, 0}};
  while (!todo.empty()) {
    auto [v, level] = todo.back();
    todo.pop_back();
    deepest = std::max(deepest, level);
    if (v->is_structured())
      for (const auto& child : *v) todo.push_back({&child, level + 1});
  }
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  segkit::JsonLimits limits;
  if (data[0] & 0x80) limits.max_depth = data[0] & 0x3f;
  if (data[0] & 0x40) limits.max_bytes = (size - 1) / 2;
  const std::string text = segkit::fuzz::as_string(data + 1, size - 1);
  try {
    const nlohmann::json j = segkit::parse_json(text, "fuzz.json", limits);
    if (text.size() > limits.max_bytes || nesting(j) > limits.max_depth) __builtin_trap();
  } catch (const segkit::JsonError& e) {
    const std::string message = e.what();
    if (message.rfind("fuzz.json: ", 0) != 0 || message.find('\n') != std::string::npos) __builtin_trap();
    const bool malformed = message.rfind("fuzz.json: malformed JSON: ", 0) == 0;
    if (malformed == e.syntax_error().empty()) __builtin_trap();
  }
  try {
    segkit::server::parse_request_json(text);
  } catch (const segkit::server::HttpError& e) {
    if (e.status() != 400) __builtin_trap();
  }
  return 0;
}
