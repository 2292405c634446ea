#include <ATen/ops/from_blob.h>

#include <cstdint>

#include "models/sam/checkpoint.h"
#include "segkit/error.h"
#include "segkit/safetensors.h"

namespace segkit::sam {

namespace {
at::ScalarType scalar_type(DType t, const std::string& path, const std::string& name) {
  switch (t) {
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::F64: return at::kDouble;
    default: fail(path, "tensor '" + name + "' has dtype " + dtype_name(t) + ", expected floating point weights");
  }
}
}  // namespace

LoadedWeights read_safetensors_weights(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> raw;
  for (const std::string& name : file->names()) {
    const TensorView& v = file->get(name);
    at::ScalarType st = scalar_type(v.dtype, path, name);
    std::vector<int64_t> shape = v.shape;
    // Float32 data aligned in the map is used in place; anything else is converted once.
    at::Tensor t = at::from_blob(const_cast<uint8_t*>(v.data), shape, at::TensorOptions().dtype(st));
    if (st != at::kFloat || reinterpret_cast<uintptr_t>(v.data) % alignof(float) != 0) t = t.to(at::kFloat, false, true);
    raw[name] = t;
  }
  LoadedWeights out{translate_hf_names(raw, path), {file}};
  return out;
}

}  // namespace segkit::sam
