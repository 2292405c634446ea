#include "checkpoints/float_tensors.h"

#include <ATen/ops/from_blob.h>

#include <cstdint>

#include "checkpoints/pth_reader.h"
#include "segkit/error.h"

namespace segkit::checkpoints {

at::ScalarType weight_scalar_type(DType t, const std::string& path, const std::string& name) {
  switch (t) {
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::F64: return at::kDouble;
    default: fail(path, "tensor '" + name + "' has dtype " + dtype_name(t) + ", expected floating point weights");
  }
}

FloatTensors read_safetensors_tensors(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  FloatTensors out;
  for (const std::string& name : file->names()) {
    const TensorView& v = file->get(name);
    at::ScalarType st = weight_scalar_type(v.dtype, path, name);
    std::vector<int64_t> shape = v.shape;
    // Float32 data aligned in the map is used in place; anything else is converted once.
    at::Tensor t = at::from_blob(const_cast<uint8_t*>(v.data), shape, at::TensorOptions().dtype(st));
    if (st != at::kFloat || reinterpret_cast<uintptr_t>(v.data) % alignof(float) != 0) t = t.to(at::kFloat, false, true);
    out.tensors[name] = t;
  }
  out.backing_files.push_back(file);
  return out;
}

FloatTensors read_pth_tensors(const std::string& path) {
  auto file = PthFile::open(path);
  FloatTensors out;
  for (const auto& [name, t] : file->tensors()) {
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F64) continue;
    at::Tensor view = at::from_blob(const_cast<uint8_t*>(t.data), t.shape, t.strides,
                                    at::TensorOptions().dtype(weight_scalar_type(t.dtype, path, name)));
    // torch.save aligns entries, so contiguous float32 tensors are used in place; others are
    // converted once into owned memory.
    const bool in_place = t.dtype == DType::F32 && is_contiguous(t) && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0;
    out.tensors[name] = in_place ? view : view.to(at::kFloat, false, /*copy=*/true).contiguous();
  }
  out.backing_files.push_back(file);
  return out;
}

}  // namespace segkit::checkpoints
