#pragma once
// Access to the SAM 3 goldens in tests/data/sam3 (transformers 5.17 on a tiny random-weight
// model; README.md there says what was selected).
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "checkpoints/float_tensors.h"
#include "core/json_read.h"
#include "mask2former_fixtures.h"  // case_tensor, relative_l2
#include "models/sam3/config.h"
#include "nn/weight_map.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

inline std::string sam3_tiny() { return data_path("sam3/model"); }

inline std::shared_ptr<const SafetensorsFile> sam3_case(const std::string& name) {
  return SafetensorsFile::open(data_path("sam3/cases/" + name + ".safetensors"));
}

inline sam3::Sam3Config sam3_tiny_config() {
  const std::string path = sam3_tiny() + "/config.json";
  return sam3::parse_config(read_json_file(path, JsonLimits::config()), path);
}

inline sam3::ProcessorConfig sam3_tiny_processor() {
  const std::string path = sam3_tiny() + "/processor_config.json";
  return sam3::parse_processor_config(read_json_file(path, JsonLimits::config()), path);
}

// The tiny model's weights by their file names (transformers' module paths).
inline nn::WeightMap sam3_tiny_weights() {
  static checkpoints::FloatTensors file = checkpoints::read_safetensors_tensors(sam3_tiny() + "/model.safetensors");
  nn::WeightMap w("tiny sam3");
  for (const auto& [name, t] : file.tensors) w.insert(name, t);
  return w;
}

}  // namespace segkit::test
