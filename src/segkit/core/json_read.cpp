#include "core/json_read.h"

#include <sys/stat.h>

#include <stdexcept>

#include "segkit/files.h"

namespace segkit {

namespace {
[[noreturn]] void refuse(const std::string& context, const std::string& problem, const std::string& syntax_error = "") {
  throw JsonError(context + ": " + problem, syntax_error);
}
}  // namespace

nlohmann::json parse_json(const char* begin, const char* end, const std::string& context, const JsonLimits& limits) {
  const size_t size = static_cast<size_t>(end - begin);
  if (size > limits.max_bytes)
    refuse(context, "JSON is " + std::to_string(size) + " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  bool too_deep = false;
  // The callback sees every value with its depth; refusing early keeps deep input cheap.
  auto guard = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > limits.max_depth) {
      too_deep = true;
      throw std::length_error("too deep");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(begin, end, guard);
  } catch (const nlohmann::json::exception& e) {
    refuse(context, std::string("malformed JSON: ") + e.what(), e.what());
  } catch (const std::length_error&) {
    if (!too_deep) throw;
    refuse(context, "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
}

nlohmann::json parse_json(const std::string& text, const std::string& context, const JsonLimits& limits) {
  return parse_json(text.data(), text.data() + text.size(), context, limits);
}

nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits) {
  // Refuse an oversized file before reading it into memory.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > limits.max_bytes)
    refuse(path, "JSON file is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                     std::to_string(limits.max_bytes));
  return parse_json(read_text_file(path), path, limits);
}

}  // namespace segkit
