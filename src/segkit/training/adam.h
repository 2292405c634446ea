#pragma once
// Adam with decoupled weight decay (AdamW; plain Adam when weight_decay = 0), with the update of
// torch.optim.AdamW. Written here rather than taken from torch::optim so that its whole state is
// a few named tensors we can checkpoint and restore exactly.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "segkit/safetensors.h"

namespace segkit::training {

class Adam {
 public:
  explicit Adam(std::vector<at::Tensor> params, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                double weight_decay = 0.0);
  void zero_grad();
  void step(double lr);
  int64_t steps() const { return steps_; }

  // Named "state.<i>.exp_avg" / "state.<i>.exp_avg_sq" as in torch's optimizer state_dict.
  std::vector<TensorRef> state_refs(const std::string& prefix) const;
  void load_state(const SafetensorsFile& file, const std::string& prefix, int64_t steps);
  // Every moment tensor (exp_avg of each parameter, then exp_avg_sq), to be shared in place.
  std::vector<at::Tensor> moments() const;

 private:
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  double beta1_, beta2_, eps_, weight_decay_;
  int64_t steps_ = 0;
};

}  // namespace segkit::training
