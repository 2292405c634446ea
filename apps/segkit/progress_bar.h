#pragma once
// A one-line progress bar on stderr for long commands, drawn only when stderr is a terminal.
#include <unistd.h>

#include <cstdio>
#include <string>

namespace segkit::cli {

class ProgressBar {
 public:
  ProgressBar(size_t total, bool quiet) : total_(total), enabled_(!quiet && ::isatty(STDERR_FILENO)) {}
  void update(size_t done, const std::string& name) const {
    if (!enabled_) return;
    const int width = 30;
    const int filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu %-40.40s", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), ' ').c_str(), done, total_, name.c_str());
    std::fflush(stderr);
  }
  void update_fraction(double fraction, const std::string& name) const {
    if (!enabled_) return;
    const int width = 30;
    const int filled = static_cast<int>(width * fraction);
    std::fprintf(stderr, "\r[%s%s] %3d%% %-40.40s", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), ' ').c_str(), static_cast<int>(100 * fraction), name.c_str());
    std::fflush(stderr);
  }
  void finish() const {
    if (enabled_) std::fprintf(stderr, "\r%80s\r", "");
  }

 private:
  size_t total_;
  bool enabled_;
};

}  // namespace segkit::cli
