#pragma once
// Access to tests/data/sam3 for the SAM 3 DETR tests: the tiny model, its config and the trimmed
// DETR cases (tests/data/sam3/README.md says what was selected).
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>

#include "checkpoints/float_tensors.h"
#include "mask2former_fixtures.h"
#include "nn/weight_map.h"
#include "segkit/files.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

inline nlohmann::json sam3_tiny_config() {
  return nlohmann::json::parse(read_text_file(data_path("sam3/model/config.json")));
}

// The tiny model's weights by their file names, with `prefix` in front ("detector_model." as in
// the sam3_video checkpoints).
inline nn::WeightMap sam3_tiny_weights(const std::string& prefix = "") {
  static const checkpoints::FloatTensors file =
      checkpoints::read_safetensors_tensors(data_path("sam3/model/model.safetensors"));
  nn::WeightMap w("tiny sam3");
  for (const auto& [name, t] : file.tensors) w.insert(prefix + name, t);
  return w;
}

inline const SafetensorsFile& sam3_detr_cases() {
  static const auto f = SafetensorsFile::open(data_path("sam3/detr_cases.safetensors"));
  return *f;
}

// "<case>/<fixture name>" from detr_cases.safetensors.
inline at::Tensor sam3_detr_case(const std::string& name, const std::string& key) {
  return case_tensor(sam3_detr_cases(), name + "/" + key);
}

}  // namespace segkit::test
