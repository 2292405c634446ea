#pragma once
// What the machine offers (for benchmarks and for picking a precision) and how much memory
// this process has used.
#include <string>
#include <vector>

namespace segkit {

struct MachineInfo {
  std::string cpu_model;             // "AMD EPYC ...", from /proc/cpuinfo
  int logical_cores = 0;
  std::vector<std::string> simd_flags;  // the vector-unit flags that matter here (avx2, avx512f, avx512_bf16, amx_*)
  bool native_bf16 = false;          // avx512_bf16 or AMX: bf16 GEMMs at about twice the fp32 rate
};
MachineInfo machine_info();

// Peak resident memory (VmHWM) in MiB since the start or the last reset; 0 if unknown.
double peak_rss_mb();
// Starts a new peak measurement where the kernel allows it (Linux /proc/self/clear_refs);
// returns false where it does not, and the peak then stays process-wide.
bool reset_peak_rss();

}  // namespace segkit
