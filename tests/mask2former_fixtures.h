#pragma once
// Access to the Mask2Former goldens in tests/data/mask2former (transformers 5.17 on a tiny
// random-weight model; README.md there says what was selected).
#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <string>

#include "checkpoints/float_tensors.h"
#include "nn/weight_map.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {

inline std::string mask2former_tiny() { return data_path("mask2former/model"); }

inline std::shared_ptr<const SafetensorsFile> mask2former_case(const std::string& name) {
  return SafetensorsFile::open(data_path("mask2former/cases/" + name + ".safetensors"));
}

// A copy of a stored tensor, in its own dtype (bool/uint8 as uint8, integer maps as int16/int64).
inline at::Tensor case_tensor(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.get(name);
  at::ScalarType type = at::kFloat;
  switch (v.dtype) {
    case DType::F32: type = at::kFloat; break;
    case DType::I64: type = at::kLong; break;
    case DType::I32: type = at::kInt; break;
    case DType::I16: type = at::kShort; break;
    case DType::U8: case DType::BOOL: type = at::kByte; break;
    default: throw std::runtime_error("case_tensor: unexpected dtype of " + name);
  }
  std::vector<int64_t> shape(v.shape.begin(), v.shape.end());
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  std::memcpy(t.data_ptr(), v.data, v.nbytes);
  return t;
}

// The tiny model's weights by their file names.
inline nn::WeightMap mask2former_tiny_weights() {
  static checkpoints::FloatTensors file = checkpoints::read_safetensors_tensors(data_path("mask2former/model/model.safetensors"));
  nn::WeightMap w("tiny mask2former");
  for (const auto& [name, t] : file.tensors) w.insert(name, t);
  return w;
}

// ||a − b|| / ||b|| over float tensors of the same shape.
inline double relative_l2(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return INFINITY;
  const at::Tensor d = a.to(at::kDouble) - b.to(at::kDouble);
  const double den = b.to(at::kDouble).norm().item<double>();
  const double num = d.norm().item<double>();
  return den > 0 ? num / den : num;
}

}  // namespace segkit::test
