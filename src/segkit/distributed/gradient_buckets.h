#pragma once
// Averaging the gradients of data-parallel training over the ranks, as DDP does, with the
// all-reduces overlapping backward. The trainable parameters are grouped into flat buckets of
// at most `bucket_bytes`, last parameter first: the order in which backward produces their
// gradients. The first bucket holds at most `first_bucket_bytes`, so that its all-reduce
// starts early in backward. A hook on each parameter's gradient accumulator copies its gradient into its
// bucket as soon as it is accumulated; once a bucket holds all its gradients, its all-reduce
// starts on Gloo's threads while backward goes on. Buckets start in their order only (a full
// bucket waits for those before it), so every rank starts the same all-reduces in the same
// order however its gradients arrive. after_backward() fills in the gradients that never came
// (parameters unused in this step count as zeros), starts the buckets left, waits for all,
// divides by the world size and copies the means back into .grad().
//
// Overlap::AfterBackward installs no hooks: all of it happens in after_backward(), as one
// would write it without overlap (same buckets, same sums; the tests compare the two).
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "distributed/process_group.h"

namespace torch::autograd {
struct Node;
}

namespace segkit::distributed {

class GradientBuckets {
 public:
  enum class Overlap { WithBackward, AfterBackward };

  // `parameters`: float32 CPU leaf tensors that require grad, in the same order on every rank.
  // `group` must outlive the buckets. DDP's sizes by default: 25 MiB, the first 1 MiB (a
  // parameter larger than a bucket has one of its own).
  GradientBuckets(std::vector<at::Tensor> parameters, ProcessGroup& group, size_t bucket_bytes = 25u << 20,
                  Overlap overlap = Overlap::WithBackward, size_t first_bucket_bytes = 1u << 20);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Every step: before_backward(), backward, after_backward(); then every parameter's .grad()
  // is the mean over the ranks (undefined gradients count as 0). Gradients arriving outside
  // these two calls are ignored.
  void before_backward();
  void after_backward();
  // Both at once, for gradients that are already there.
  void average() {
    before_backward();
    after_backward();
  }

  size_t bucket_count() const { return buckets_.size(); }
  const std::vector<size_t>& bucket_members(size_t bucket) const { return buckets_[bucket].members; }
  int64_t values() const;  // gradient values all-reduced per step
  // Buckets of the last step whose all-reduce started before after_backward() (none without overlap).
  size_t started_during_backward() const { return started_during_backward_; }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_, last parameter first
    at::Tensor flat;
    size_t missing = 0;           // gradients not yet copied in this step
    ProcessGroup::Pending reduction;
  };
  void arrived(size_t parameter);  // from the hooks, on backward's thread
  void copy_in(size_t parameter);
  void start_full_buckets();

  std::vector<at::Tensor> parameters_;
  ProcessGroup& group_;
  Overlap overlap_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::vector<int64_t> offset_of_;  // within its bucket
  std::vector<char> copied_;        // this step
  // Held so that autograd keeps the hooked accumulators rather than making new ones each step.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;
  std::mutex mutex_;
  bool armed_ = false, late_ = false;
  size_t next_start_ = 0, started_during_backward_ = 0;
};

}  // namespace segkit::distributed
