#pragma once
// A data-parallel process group: the rendezvous at rank 0's address (c10d's TCPStore) and
// Gloo's collectives over it, each bounded by the group's timeout. Every failure (a port in
// use, another world size, a peer that died or stopped answering) is a one-line segkit::Error.
// Collectives must be called by every rank in the same order; a subgroup() orders its own.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "segkit/distributed.h"

namespace segkit::distributed {

class ProcessGroup {
 public:
  // Blocks until all `options.world_size` ranks have joined (or the timeout passes). Error when
  // this build has no c10d/Gloo.
  static std::unique_ptr<ProcessGroup> join(const DistributedOptions& options);
  ~ProcessGroup();

  int rank() const;
  int size() const;

  // In place, on float32 (or float64) CPU tensors; `what` names the step in errors.
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const char* what);

  // An all-reduce under way on Gloo's threads while the caller goes on; wait() returns once the
  // tensor holds the sum (Error as all_reduce_sum's). It must not outlive its group.
  class Pending {
   public:
    Pending();
    Pending(Pending&&) noexcept;
    Pending& operator=(Pending&&) noexcept;
    ~Pending();
    void wait();

   private:
    friend class ProcessGroup;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };
  // Starts an in-place sum of `tensor`, which must stay untouched until wait() returned.
  Pending start_all_reduce_sum(const at::Tensor& tensor, const char* what);

  // The same ranks with connections of their own: its collectives are ordered apart from this
  // group's (batch norm's all-reduces inside backward need not interleave with the gradient
  // buckets' in the same way on every rank). Called by every rank, with the same `name`.
  std::unique_ptr<ProcessGroup> subgroup(const std::string& name);
  void broadcast_from_rank0(std::vector<at::Tensor>& tensors, const char* what);
  // Rank 0's `text` on every rank (`text` is ignored elsewhere).
  std::string broadcast_text_from_rank0(const std::string& text, const std::string& key);
  // Every rank learns whether all succeeded at something each did alone; Error naming the
  // ranks that did not (their own errors are on their own output).
  void require_all(bool ok, const char* what);

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit::distributed
