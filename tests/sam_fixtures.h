#pragma once
// Access to the SAM golden fixtures in tests/data/sam-tiny (official segment-anything outputs).
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segkit/image.h"
#include "segkit/model.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

// Load options that do not warn about unused checkpoint tensors (test checkpoints have some).
inline LoadOptions quiet_load_options() {
  LoadOptions options;
  options.warn_unused = false;
  return options;
}

inline std::string sam_tiny_hf() { return data_path("sam-tiny/hf"); }
inline std::string sam_tiny_pth() { return data_path("sam-tiny/original/sam_tiny.pth"); }

inline nlohmann::json sam_case_index() {
  std::ifstream in(data_path("sam-tiny/cases/index.json"));
  return nlohmann::json::parse(in);
}

inline std::shared_ptr<const SafetensorsFile> sam_case_file(const std::string& image) {
  return SafetensorsFile::open(data_path("sam-tiny/cases/" + image + ".safetensors"));
}

// The RGB input image of a case.
inline Image sam_case_image(const SafetensorsFile& f) {
  const TensorView& v = f.get("image");
  Image img;
  img.height = static_cast<int>(v.shape[0]);
  img.width = static_cast<int>(v.shape[1]);
  img.rgb.assign(v.data, v.data + v.nbytes);
  return img;
}

// ||a − b|| / ||b||
inline double relative_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += double(a[i] - b[i]) * (a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace segkit::test
