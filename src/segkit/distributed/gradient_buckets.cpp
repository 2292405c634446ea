#include "distributed/gradient_buckets.h"

#include <ATen/ops/empty.h>

#include "distributed/process_group.h"

namespace segkit::distributed {

GradientBuckets::GradientBuckets(std::vector<at::Tensor> parameters, size_t bucket_bytes)
    : parameters_(std::move(parameters)) {
  std::vector<size_t> members;
  int64_t filled = 0;
  auto close = [&] {
    if (members.empty()) return;
    buckets_.push_back({members, at::empty({filled}, at::kFloat)});
    members.clear();
    filled = 0;
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const int64_t n = parameters_[i].numel();
    if (!members.empty() && static_cast<size_t>(filled + n) * sizeof(float) > bucket_bytes) close();
    members.push_back(i);
    filled += n;
  }
  close();
}

int64_t GradientBuckets::values() const {
  int64_t n = 0;
  for (const auto& b : buckets_) n += b.flat.numel();
  return n;
}

void GradientBuckets::average(ProcessGroup& group) {
  std::vector<at::Tensor> flats;
  for (auto& bucket : buckets_) {
    int64_t offset = 0;
    for (size_t i : bucket.members) {
      const at::Tensor& p = parameters_[i];
      at::Tensor slice = bucket.flat.narrow(0, offset, p.numel());
      if (p.grad().defined()) slice.copy_(p.grad().reshape({-1}));
      else slice.zero_();
      offset += p.numel();
    }
    flats.push_back(bucket.flat);
  }
  group.all_reduce_sum(flats, "gradient all-reduce");
  const double scale = 1.0 / group.size();
  for (auto& bucket : buckets_) {
    bucket.flat.mul_(scale);
    int64_t offset = 0;
    for (size_t i : bucket.members) {
      at::Tensor& p = parameters_[i];
      const at::Tensor slice = bucket.flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slice);
      else p.mutable_grad() = slice.clone();
      offset += p.numel();
    }
  }
}

}  // namespace segkit::distributed
