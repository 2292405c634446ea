#pragma once
// Averaging the gradients of data-parallel training over the ranks, as DDP does: the trainable
// parameters' gradients are copied into a few flat buffers of at most `bucket_bytes` each, the
// buffers are all-reduced (all started, then all awaited), divided by the world size and copied
// back. The all-reduces start after backward has finished: there is no overlap with backward.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <vector>

namespace segkit::distributed {

class ProcessGroup;

class GradientBuckets {
 public:
  // `parameters`: float32 CPU tensors in the same order on every rank.
  explicit GradientBuckets(std::vector<at::Tensor> parameters, size_t bucket_bytes = 25u << 20);
  // Every parameter's .grad() becomes the mean over the ranks (undefined gradients count as 0).
  void average(ProcessGroup& group);
  size_t bucket_count() const { return buckets_.size(); }
  int64_t values() const;  // gradient values all-reduced per step

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    at::Tensor flat;
  };
  std::vector<at::Tensor> parameters_;
  std::vector<Bucket> buckets_;
};

}  // namespace segkit::distributed
