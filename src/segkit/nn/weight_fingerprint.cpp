#include "nn/weight_fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace segkit::nn {

namespace {

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

std::string weights_fingerprint(const WeightMap& weights, bool (*sampled)(const std::string& name)) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& [name, t] : weights.all()) {
    const at::Tensor c = t.contiguous();
    size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
    if (!sampled || sampled(name)) bytes = std::min<size_t>(bytes, 4096);
    h = fnv1a(h, name.data(), name.size());
    h = fnv1a(h, c.data_ptr(), bytes);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace segkit::nn
