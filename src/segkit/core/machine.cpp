#include "segkit/machine.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace segkit {

namespace {
// "key\t: value" → "value"
std::string field_value(const std::string& line) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return {};
  const size_t start = line.find_first_not_of(" \t", colon + 1);
  return start == std::string::npos ? std::string() : line.substr(start);
}
}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  m.logical_cores = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    if (m.cpu_model.empty() && line.rfind("model name", 0) == 0) m.cpu_model = field_value(line);
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = field_value(line);
  }
  std::istringstream fs(flags);
  for (std::string f; fs >> f;) {
    const bool wanted = f == "avx" || f == "avx2" || f == "fma" || f.rfind("avx512", 0) == 0 || f.rfind("amx", 0) == 0 ||
                        f == "avx_vnni";
    if (wanted) m.simd_flags.push_back(f);
    if (f == "avx512_bf16" || f == "amx_bf16") m.native_bf16 = true;
  }
  return m;
}

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // reported in kB
  return 0.0;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";  // 5: reset the peak resident set size
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace segkit
