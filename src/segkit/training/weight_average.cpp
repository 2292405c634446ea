#include "training/weight_average.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

namespace segkit::training {

void update_average(const std::vector<at::Tensor>& average, const std::vector<at::Tensor>& current, double decay,
                    int64_t step) {
  at::NoGradGuard no_grad;
  const double d = std::min(decay, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
  for (size_t i = 0; i < average.size(); ++i) {
    const at::Tensor& a = average[i];  // a handle: the update lands in the network's storage
    if (a.is_floating_point()) a.mul_(d).add_(current[i], 1.0 - d);
    else a.copy_(current[i]);
  }
}

void copy_state(const std::vector<at::Tensor>& destination, const std::vector<at::Tensor>& source) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < destination.size(); ++i) destination[i].copy_(source[i]);
}

}  // namespace segkit::training
