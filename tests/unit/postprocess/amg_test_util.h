#pragma once
// Loading the automatic-mask-generator goldens (tests/data/sam-tiny/amg) as tensors.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "segkit/files.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

inline std::shared_ptr<const SafetensorsFile> amg_units() {
  static auto file = SafetensorsFile::open(data_path("sam-tiny/amg/units.safetensors"));
  return file;
}

inline const nlohmann::json& amg_units_json() {
  static const nlohmann::json j = nlohmann::json::parse(read_text_file(data_path("sam-tiny/amg/units.json")));
  return j;
}

// A copy of a golden tensor with its own dtype (F32, F64, I64, I32, U8, BOOL).
inline at::Tensor golden_tensor(const SafetensorsFile& file, const std::string& name) {
  const TensorView& v = file.get(name);
  at::ScalarType type = at::kFloat;
  switch (v.dtype) {
    case DType::F32: type = at::kFloat; break;
    case DType::F64: type = at::kDouble; break;
    case DType::I64: type = at::kLong; break;
    case DType::I32: type = at::kInt; break;
    case DType::U8: type = at::kByte; break;
    case DType::BOOL: type = at::kBool; break;
    default: throw std::runtime_error("unsupported golden dtype for " + name);
  }
  at::Tensor t = at::empty(v.shape, type);
  std::memcpy(t.data_ptr(), v.data, v.nbytes);
  return t;
}

inline at::Tensor amg_golden(const std::string& name) { return golden_tensor(*amg_units(), name); }

}  // namespace segkit::test
