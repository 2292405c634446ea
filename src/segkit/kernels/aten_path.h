#pragma once
// Which code a kernel entry point runs: segkit's hand-written CPU code where every tensor is on
// the CPU, ATen's operators (which run on any device LibTorch has) otherwise. Forcing the ATen
// path runs on the CPU exactly what a GPU would run, so that this machine can test the models'
// device path (and tell that no hand-written kernel is reached on it) without a GPU.
#include <ATen/core/Tensor.h>

#include <initializer_list>

namespace segkit::kernels {

// True when the hand-written kernels may take these tensors: each undefined or on the CPU, and
// the ATen path not forced.
bool hand_written_path(std::initializer_list<const at::Tensor*> tensors);
bool hand_written_path(const at::Device& device);

// The ATen path for every tensor, process-wide: on for the environment variable
// SEGKIT_KERNELS=aten (read once), or while a ForceAtenPath lives (tests).
bool aten_path_forced();

class ForceAtenPath {
 public:
  ForceAtenPath();
  ~ForceAtenPath();
  ForceAtenPath(const ForceAtenPath&) = delete;
  ForceAtenPath& operator=(const ForceAtenPath&) = delete;

 private:
  bool previous_;
};

}  // namespace segkit::kernels
