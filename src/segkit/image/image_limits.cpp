#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "segkit/error.h"
#include "segkit/image.h"

namespace segkit {

namespace {

constexpr int64_t kBuiltInMaxPixels = 100'000'000;

int64_t parse_max_pixels(const char* text, const std::string& context) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || v <= 0)
    fail(context, std::string("'") + text + "' is not a positive pixel count");
  return v;
}

std::atomic<bool> allow_truncated{false};

std::atomic<int64_t>& current() {
  // The environment is read once, on first use; a bad value is an error then, not ignored.
  static std::atomic<int64_t> value{[] {
    const char* env = std::getenv("SEGKIT_MAX_PIXELS");
    return env && *env ? parse_max_pixels(env, "SEGKIT_MAX_PIXELS") : kBuiltInMaxPixels;
  }()};
  return value;
}

}  // namespace

int64_t default_max_pixels() { return current().load(); }

void set_default_max_pixels(int64_t max_pixels) {
  if (max_pixels <= 0) fail("--max-pixels", std::to_string(max_pixels) + " is not a positive pixel count");
  current().store(max_pixels);
}

bool default_allow_truncated() { return allow_truncated.load(); }

void set_default_allow_truncated(bool allow) { allow_truncated.store(allow); }

}  // namespace segkit
