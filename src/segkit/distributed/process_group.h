#pragma once
// A data-parallel process group: the rendezvous at rank 0's address (c10d's TCPStore) and
// Gloo's collectives over it, each bounded by the group's timeout. Every failure (a port in
// use, another world size, a peer that died or stopped answering) is a one-line segkit::Error.
// Collectives must be called by every rank in the same order.
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

  // In place, on float32 CPU tensors; `what` names the step in errors.
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const char* what);
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
