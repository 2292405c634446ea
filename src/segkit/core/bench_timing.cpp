#include "core/bench_timing.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "segkit/machine.h"

namespace segkit::bench {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

double median_ms(int repeat, const std::function<void()>& run, std::optional<double>& cpu_ms) {
  run();
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeat; ++i) {
    const double start = now_ms(), cpu_start = process_cpu_ms();
    run();
    wall.push_back(now_ms() - start);
    cpu.push_back(process_cpu_ms() - cpu_start);
  }
  cpu_ms = median(cpu);
  return median(wall);
}

std::optional<double> phase_peak(double& overall, const std::function<void()>& phase) {
  overall = std::max(overall, peak_rss_mb());
  const bool reset = reset_peak_rss();
  phase();
  overall = std::max(overall, peak_rss_mb());
  if (!reset) return std::nullopt;
  return peak_rss_mb();
}

}  // namespace segkit::bench
