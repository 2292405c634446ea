#pragma once
// Where a model's tensors live (LoadOptions::device, as LibTorch's device) and the two
// crossings every family makes: inputs prepared on the host go to the model's device, outputs
// come back to the host for post-processing and files.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "segkit/model.h"

namespace segkit::models {

at::Device torch_device(const Device& device);

// `t` on `device`; undefined stays undefined, and a tensor already there is not copied.
at::Tensor to_device(const at::Tensor& t, const at::Device& device);
// `t` on the host (the CPU), contiguous, for reading its values.
at::Tensor to_host(const at::Tensor& t);
// The values of a contiguous host bool tensor (as to_host gives it) as bytes, read in place:
// ATen stores a bool in one byte, 0 or 1, so masks need no converted uint8 copy (hundreds of
// MB at photo size).
inline const uint8_t* bool_bytes(const at::Tensor& host_bool) {
  return reinterpret_cast<const uint8_t*>(host_bool.data_ptr<bool>());
}

// Error "device 'cuda:0': ..." for a device this process cannot run on: CUDA without a CUDA
// LibTorch (this build's is CPU-only) or without that GPU (every loader calls it).
void require_supported_device(const Device& device);
// Error "device 'cuda:0': ..." unless `device` is the CPU: for families whose code runs on the
// CPU only (`title`: "Mask2Former", ...).
void require_cpu_device(const Device& device, const std::string& title);

}  // namespace segkit::models
