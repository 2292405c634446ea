#include "training/weight_average.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

namespace segkit::unet {

void update_average(Network& average, const Network& current, double decay, int64_t step) {
  at::NoGradGuard no_grad;
  const double d = std::min(decay, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
  auto& avg = average.state();
  const auto& cur = current.state();
  for (size_t i = 0; i < avg.size(); ++i) {
    at::Tensor& a = avg[i].tensor;
    if (a.is_floating_point()) a.mul_(d).add_(cur[i].tensor, 1.0 - d);
    else a.copy_(cur[i].tensor);
  }
}

void copy_state(Network& destination, const Network& source) {
  at::NoGradGuard no_grad;
  auto& dst = destination.state();
  const auto& src = source.state();
  for (size_t i = 0; i < dst.size(); ++i) dst[i].tensor.copy_(src[i].tensor);
}

}  // namespace segkit::unet
