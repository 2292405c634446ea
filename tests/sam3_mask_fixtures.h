#pragma once
// Access to tests/data/sam3/mask_cases.safetensors for the SAM 3 mask decoder and
// post-processing tests (tests/data/sam3/README.md says what was selected), and the FPN levels
// the vision tests' cases hold.
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mask2former_fixtures.h"  // case_tensor, relative_l2
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

inline const SafetensorsFile& sam3_mask_cases() {
  static const auto f = SafetensorsFile::open(data_path("sam3/mask_cases.safetensors"));
  return *f;
}

// "<case>/<fixture name>" from mask_cases.safetensors.
inline at::Tensor sam3_mask_case(const std::string& name, const std::string& key) {
  return case_tensor(sam3_mask_cases(), name + "/" + key);
}

// index.json's thresholds of a case ({"score", "mask", "semantic", …}).
inline nlohmann::json sam3_mask_thresholds(const std::string& name) {
  return nlohmann::json::parse(sam3_mask_cases().metadata().at("thresholds")).at(name);
}

// The FPN levels ×4, ×2, ×1 (finest first) of a case in tests/data/sam3/cases.
inline std::vector<at::Tensor> sam3_fpn_levels(const std::string& name) {
  const auto f = SafetensorsFile::open(data_path("sam3/cases/" + name + ".safetensors"));
  std::vector<at::Tensor> levels;
  for (int i = 0; i < 3; ++i)
    levels.push_back(case_tensor(*f, "act.vision_encoder.neck.fpn_layers." + std::to_string(i)));
  return levels;
}

// Unpacks index.json's mask_packing: bit i of the row-major flattened mask is
// (word[i / 64] >> (i % 64)) & 1. → uint8 0/1 of `shape`.
inline at::Tensor unpack_mask(const at::Tensor& words, const at::Tensor& shape_tensor) {
  std::vector<int64_t> shape(shape_tensor.data_ptr<int64_t>(), shape_tensor.data_ptr<int64_t>() + shape_tensor.numel());
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  at::Tensor out = at::empty({n}, at::kByte);
  const auto* w = reinterpret_cast<const uint64_t*>(words.data_ptr<int64_t>());
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<uint8_t>((w[i / 64] >> (i % 64)) & 1u);
  return out.view(shape);
}

}  // namespace segkit::test
