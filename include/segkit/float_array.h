#pragma once
// A dense float array, row-major: what the models' stages take and give in the public API.
#include <cstdint>
#include <vector>

namespace segkit {

struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

}  // namespace segkit
