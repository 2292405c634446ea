#pragma once
// splitmix64: a tiny, fast generator that gives the same numbers on every platform (unlike the
// std distributions), for random weights that must be the same bytes for the same seed.
#include <cstdint>

namespace segkit {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [−half_width, half_width), 24 bits of resolution.
  float uniform(float half_width) { return (static_cast<float>(next() >> 40) / 16777216.0f * 2 - 1) * half_width; }
};

}  // namespace segkit
