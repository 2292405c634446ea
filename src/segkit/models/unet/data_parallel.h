#pragma once
// The U-Net trainer's side of data-parallel training (PyTorch DDP's behaviour): rank 0's
// weights, running statistics and optimizer state at the start; gradients averaged over the
// ranks each step, their all-reduces overlapping backward (gradient_buckets.h); batch norm on
// each rank's own batch, with rank 0's running statistics broadcast before each forward (DDP's
// broadcast_buffers), or with --sync-batch-norm over all ranks' batches (sync_batch_norm.h);
// the loss and a stop request agreed.
#include <memory>
#include <string>

#include "distributed/gradient_buckets.h"
#include "distributed/process_group.h"
#include "segkit/distributed.h"

namespace segkit::training {
class Adam;
}

namespace segkit::unet {

class Network;

class DataParallel {
 public:
  explicit DataParallel(const DistributedOptions& options);
  int rank() const { return group_->rank(); }
  int world_size() const { return group_->size(); }
  distributed::ProcessGroup& group() { return *group_; }

  // Error on every rank unless every rank describes its run as rank 0 does.
  void require_same_run(const std::string& description);
  // Everything rank 0 has (weights, statistics, moments, average) onto the other ranks.
  void share_start(Network& model, Network* average, training::Adam& adam);
  // Batch norm over the global batch from now on (with more than one rank; a no-op otherwise).
  void synchronise_batch_norm(Network& model);
  void share_running_statistics(Network& model);  // nothing to share when synchronised
  // Around each step's backward: after it, every gradient is the mean over the ranks.
  void before_backward() { buckets_->before_backward(); }
  void after_backward() { buckets_->after_backward(); }
  struct Agreement {
    double mean_loss;
    bool stop;  // some rank was asked to stop
  };
  Agreement agree(double loss, bool stop);

 private:
  std::unique_ptr<distributed::ProcessGroup> group_;
  std::unique_ptr<distributed::GradientBuckets> buckets_;
  std::unique_ptr<distributed::ProcessGroup> batch_norm_group_;  // with synchronised batch norm
};

}  // namespace segkit::unet
