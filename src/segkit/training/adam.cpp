#include "training/adam.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>

#include "segkit/error.h"

namespace segkit::training {

Adam::Adam(std::vector<at::Tensor> params, double beta1, double beta2, double eps, double weight_decay)
    : params_(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  at::NoGradGuard no_grad;
  for (const auto& p : params_) {
    exp_avg_.push_back(at::zeros_like(p));
    exp_avg_sq_.push_back(at::zeros_like(p));
  }
}

std::vector<at::Tensor> Adam::moments() const {
  std::vector<at::Tensor> all = exp_avg_;
  all.insert(all.end(), exp_avg_sq_.begin(), exp_avg_sq_.end());
  return all;
}

void Adam::zero_grad() {
  for (auto& p : params_) {
    at::Tensor g = p.mutable_grad();
    if (g.defined()) g.zero_();
  }
}

void Adam::step(double lr) {
  at::NoGradGuard no_grad;
  ++steps_;
  const double bc1 = 1.0 - std::pow(beta1_, static_cast<double>(steps_));
  const double bc2 = 1.0 - std::pow(beta2_, static_cast<double>(steps_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (weight_decay_ != 0) p.mul_(1.0 - lr * weight_decay_);
    exp_avg_[i].mul_(beta1_).add_(g, 1.0 - beta1_);
    exp_avg_sq_[i].mul_(beta2_).addcmul_(g, g, 1.0 - beta2_);
    at::Tensor denom = exp_avg_sq_[i].sqrt().div_(std::sqrt(bc2)).add_(eps_);
    p.addcdiv_(exp_avg_[i], denom, -lr / bc1);
  }
}

std::vector<TensorRef> Adam::state_refs(const std::string& prefix) const {
  std::vector<TensorRef> refs;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string base = prefix + "state." + std::to_string(i);
    refs.push_back({base + ".exp_avg", DType::F32, exp_avg_[i].sizes().vec(), exp_avg_[i].data_ptr()});
    refs.push_back({base + ".exp_avg_sq", DType::F32, exp_avg_sq_[i].sizes().vec(), exp_avg_sq_[i].data_ptr()});
  }
  return refs;
}

void Adam::load_state(const SafetensorsFile& file, const std::string& prefix, int64_t steps) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string base = prefix + "state." + std::to_string(i);
    for (auto* pair : {&exp_avg_, &exp_avg_sq_}) {
      const std::string name = base + (pair == &exp_avg_ ? ".exp_avg" : ".exp_avg_sq");
      const TensorView& v = file.get(name);
      at::Tensor& dst = (*pair)[i];
      if (v.dtype != DType::F32 || v.shape != dst.sizes().vec()) fail(file.path(), "optimizer tensor '" + name + "' does not match the model");
      dst.copy_(at::from_blob(const_cast<uint8_t*>(v.data), v.shape, at::kFloat));
    }
  }
  steps_ = steps;
}

}  // namespace segkit::training
