#pragma once
// The hand-written kernels read tensors through raw CPU pointers, so each entry point refuses a
// tensor that lives on another device (a GPU, or PyTorch's "meta") before touching its data,
// and refuses to run at all while the ATen path is forced (kernels/aten_path.h): a test on that
// path then fails where a GPU run would have reached CPU-only code.
#include <ATen/core/Tensor.h>

#include <initializer_list>
#include <string>

#include "kernels/aten_path.h"
#include "segkit/error.h"

namespace segkit::kernels {

inline void require_cpu(const char* kernel, std::initializer_list<const at::Tensor*> tensors) {
  if (aten_path_forced()) fail(kernel, "a hand-written CPU kernel reached while the ATen path is forced");
  for (const at::Tensor* t : tensors)
    if (t->defined() && !t->device().is_cpu())
      fail(kernel, "a tensor on device " + t->device().str() + "; this kernel runs on the CPU only");
}

}  // namespace segkit::kernels
