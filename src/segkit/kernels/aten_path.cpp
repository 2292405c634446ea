#include "kernels/aten_path.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace segkit::kernels {

namespace {

std::atomic<bool>& forced() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("SEGKIT_KERNELS");
    return v != nullptr && std::strcmp(v, "aten") == 0;
  }()};
  return flag;
}

}  // namespace

bool aten_path_forced() { return forced().load(std::memory_order_relaxed); }

bool hand_written_path(const at::Device& device) { return device.is_cpu() && !aten_path_forced(); }

bool hand_written_path(std::initializer_list<const at::Tensor*> tensors) {
  if (aten_path_forced()) return false;
  for (const at::Tensor* t : tensors)
    if (t->defined() && !t->device().is_cpu()) return false;
  return true;
}

ForceAtenPath::ForceAtenPath() : previous_(forced().exchange(true)) {}
ForceAtenPath::~ForceAtenPath() { forced().store(previous_); }

}  // namespace segkit::kernels
