#include <ATen/ops/from_blob.h>

#include <cstdint>

#include "io/pth_reader.h"
#include "models/sam/checkpoint.h"

namespace segkit::sam {

LoadedWeights read_pth_weights(const std::string& path) {
  auto file = PthFile::open(path);
  std::map<std::string, at::Tensor> raw;
  for (const auto& [name, t] : file->tensors()) {
    // Non-float entries (step counters and the like in training checkpoints) are not weights.
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F64) continue;
    at::Tensor view = at::from_blob(const_cast<uint8_t*>(t.data), t.shape, t.strides,
                                    at::TensorOptions().dtype(weight_scalar_type(t.dtype, path, name)));
    // torch.save aligns entries, so contiguous float32 tensors are used in place; others are
    // converted once into owned memory.
    const bool in_place = t.dtype == DType::F32 && is_contiguous(t) && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0;
    raw[name] = in_place ? view : view.to(at::kFloat, false, /*copy=*/true).contiguous();
  }
  return LoadedWeights{translate_hf_names(raw, path), {file}};
}

}  // namespace segkit::sam
