#pragma once
// Timing and memory helpers shared by the model benchmarks (`segkit bench`): medians of repeats
// after a warm-up, process CPU time beside wall time, and per-phase peak resident memory.
#include <functional>
#include <optional>
#include <vector>

namespace segkit::bench {

double now_ms();  // steady clock
// CPU time of the whole process (all threads): on a machine shared with other work it varies
// much less than wall time.
double process_cpu_ms();
double median(std::vector<double> values);

// One untimed warm-up (first-touch page faults, lazy initialisation), then the median of
// `repeat` runs: wall time returned, CPU time in `cpu_ms`.
double median_ms(int repeat, const std::function<void()>& run, std::optional<double>& cpu_ms);

// Runs `phase` and returns its peak resident memory in MiB, where the kernel lets us reset the
// peak; `overall` keeps the peak of the whole run across resets.
std::optional<double> phase_peak(double& overall, const std::function<void()>& phase);

}  // namespace segkit::bench
