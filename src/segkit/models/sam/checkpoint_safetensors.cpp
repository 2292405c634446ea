#include <ATen/ops/from_blob.h>

#include <cstdint>

#include "models/sam/checkpoint.h"
#include "segkit/safetensors.h"

namespace segkit::sam {

LoadedWeights read_safetensors_weights(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> raw;
  for (const std::string& name : file->names()) {
    const TensorView& v = file->get(name);
    at::ScalarType st = weight_scalar_type(v.dtype, path, name);
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
