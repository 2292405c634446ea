#include "distributed/gradient_buckets.h"

#include <ATen/ops/empty.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <functional>
#include <string>

#include "segkit/error.h"

namespace segkit::distributed {

namespace {

// Runs after a leaf's gradient accumulator has added this backward's gradient to .grad().
// (LibTorch 1.13 has no tensor-level post-accumulate hook; a pre-hook from register_hook would
// see the incoming gradient, not the accumulated one.)
class AfterAccumulation : public torch::autograd::FunctionPostHook {
 public:
  explicit AfterAccumulation(std::function<void()> call) : call_(std::move(call)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    call_();
    return outputs;
  }

 private:
  std::function<void()> call_;
};

}  // namespace

GradientBuckets::GradientBuckets(std::vector<at::Tensor> parameters, ProcessGroup& group, size_t bucket_bytes,
                                 Overlap overlap, size_t first_bucket_bytes)
    : parameters_(std::move(parameters)),
      group_(group),
      overlap_(overlap),
      bucket_of_(parameters_.size()),
      offset_of_(parameters_.size()),
      copied_(parameters_.size(), 0) {
  std::vector<size_t> members;
  int64_t filled = 0;
  auto close = [&] {
    if (members.empty()) return;
    Bucket b;
    b.members = members;
    b.flat = at::empty({filled}, at::kFloat);
    buckets_.push_back(std::move(b));
    members.clear();
    filled = 0;
  };
  for (size_t i = parameters_.size(); i-- > 0;) {
    const int64_t n = parameters_[i].numel();
    const size_t limit = buckets_.empty() ? std::min(first_bucket_bytes, bucket_bytes) : bucket_bytes;
    if (!members.empty() && static_cast<size_t>(filled + n) * sizeof(float) > limit) close();
    bucket_of_[i] = buckets_.size();
    offset_of_[i] = filled;
    members.push_back(i);
    filled += n;
  }
  close();
  if (overlap_ == Overlap::AfterBackward) return;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    std::shared_ptr<torch::autograd::Node> accumulator;
    if (parameters_[i].requires_grad() && parameters_[i].is_leaf())
      accumulator = torch::autograd::impl::grad_accumulator(parameters_[i]);
    if (!accumulator) fail("gradient buckets", "parameter " + std::to_string(i) + " is not a leaf that requires grad");
    hook_keys_.push_back(accumulator->add_post_hook(std::make_unique<AfterAccumulation>([this, i] { arrived(i); })));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradientBuckets::~GradientBuckets() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
}

int64_t GradientBuckets::values() const {
  int64_t n = 0;
  for (const auto& b : buckets_) n += b.flat.numel();
  return n;
}

void GradientBuckets::copy_in(size_t i) {
  const at::Tensor& p = parameters_[i];
  at::Tensor slice = buckets_[bucket_of_[i]].flat.narrow(0, offset_of_[i], p.numel());
  if (p.grad().defined()) slice.copy_(p.grad().reshape({-1}));
  else slice.zero_();
}

// In bucket order only: every rank then starts the same all-reduces in the same order.
void GradientBuckets::start_full_buckets() {
  while (next_start_ < buckets_.size() && buckets_[next_start_].missing == 0) {
    Bucket& b = buckets_[next_start_++];
    b.reduction = group_.start_all_reduce_sum(b.flat, "gradient all-reduce");
  }
}

void GradientBuckets::before_backward() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::fill(copied_.begin(), copied_.end(), 0);
  for (auto& b : buckets_) b.missing = b.members.size();
  next_start_ = 0;
  started_during_backward_ = 0;
  late_ = false;
  armed_ = true;
}

void GradientBuckets::arrived(size_t i) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  Bucket& b = buckets_[bucket_of_[i]];
  if (copied_[i]) {  // a second backward in the same step: fine until its bucket has started
    if (bucket_of_[i] < next_start_) late_ = true;
    else copy_in(i);
    return;
  }
  copy_in(i);
  copied_[i] = 1;
  if (--b.missing == 0) {
    const size_t before = next_start_;
    start_full_buckets();
    started_during_backward_ += next_start_ - before;
  }
}

void GradientBuckets::after_backward() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) fail("gradient buckets", "after_backward() without before_backward()");
    armed_ = false;
    // Unused parameters (and, without overlap, all of them): whatever .grad() holds, else zeros.
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (!copied_[i]) {
        copy_in(i);
        copied_[i] = 1;
        --buckets_[bucket_of_[i]].missing;
      }
    start_full_buckets();
  }
  for (auto& b : buckets_) b.reduction.wait();
  if (late_) fail("gradient buckets", "a gradient arrived after its bucket's all-reduce had started (two backward passes in one step?)");
  const double scale = 1.0 / group_.size();
  for (auto& b : buckets_) {
    b.flat.mul_(scale);
    for (size_t i : b.members) {
      at::Tensor& p = parameters_[i];
      const at::Tensor slice = b.flat.narrow(0, offset_of_[i], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slice);
      else p.mutable_grad() = slice.clone();
    }
  }
}

}  // namespace segkit::distributed
