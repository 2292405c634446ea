#pragma once
// A whole non-negative number as people and launchers write it ("3", "0042"), for command-line
// specs and environment variables: digits only, at most 9 of them (no sign, no overflow).
#include <cstdlib>
#include <optional>
#include <string>

namespace segkit {

inline std::optional<long> whole_number(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::strtol(s.c_str(), nullptr, 10);
}

}  // namespace segkit
