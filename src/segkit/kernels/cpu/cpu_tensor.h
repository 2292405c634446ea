#pragma once
// The hand-written kernels read tensors through raw CPU pointers, so each entry point refuses a
// tensor that lives on another device (a GPU, or PyTorch's "meta") before touching its data.
#include <ATen/core/Tensor.h>

#include <initializer_list>
#include <string>

#include "segkit/error.h"

namespace segkit::kernels {

inline void require_cpu(const char* kernel, std::initializer_list<const at::Tensor*> tensors) {
  for (const at::Tensor* t : tensors)
    if (t->defined() && !t->device().is_cpu())
      fail(kernel, "a tensor on device " + t->device().str() + "; this kernel runs on the CPU only");
}

}  // namespace segkit::kernels
