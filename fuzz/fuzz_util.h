#pragma once
// Shared by the fuzz targets: a segkit::Error is the expected answer to a bad input; anything
// else escaping (another exception, a crash, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "segkit/error.h"

#define SEGKIT_FUZZ_EXPECT_ERRORS(...) \
  try {                                 \
    __VA_ARGS__;                        \
  } catch (const segkit::Error&) {      \
  }

namespace segkit::fuzz {

inline std::string as_string(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Touches every byte of [p, p + n) so that ASan checks the whole range a parser promised.
inline uint8_t touch(const uint8_t* p, size_t n) {
  uint8_t x = 0;
  for (size_t i = 0; i < n; ++i) x ^= p[i];
  return x;
}

}  // namespace segkit::fuzz
