#include "core/stale_temporaries.h"

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <filesystem>
#include <regex>

namespace fs = std::filesystem;

namespace segkit {

int remove_stale_temporaries(const std::string& folder) {
  static const std::regex pattern(R"(\..+\.tmp(\d{1,9})_\d+)");
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, pattern) || !entry.is_regular_file(ec)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(m[1].str()));
    const bool alive = ::kill(pid, 0) == 0 || errno == EPERM;
    if (!alive && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace segkit
