#include "models/unet/data_parallel.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/tensor.h>

#include "models/unet/network.h"
#include "segkit/error.h"
#include "training/adam.h"

namespace segkit::unet {

namespace {
std::vector<at::Tensor> running_statistics(Network& network) {
  std::vector<at::Tensor> buffers;
  for (const auto& t : network.state())
    if (!t.trainable) buffers.push_back(t.tensor);
  return buffers;
}
}  // namespace

DataParallel::DataParallel(const DistributedOptions& options) : group_(distributed::ProcessGroup::join(options)) {}

void DataParallel::require_same_run(const std::string& description) {
  const std::string theirs = group_->broadcast_text_from_rank0(description, "run");
  group_->require_all(theirs == description, "checking that all ranks train the same run");
  if (theirs != description)
    fail("distributed training", "rank " + std::to_string(rank()) +
                                     " was started with other training options or data than rank 0 (" +
                                     description + " here, " + theirs + " on rank 0)");
}

void DataParallel::share_start(Network& model, Network* average, training::Adam& adam) {
  at::NoGradGuard no_grad;  // written in place, outside autograd
  std::vector<at::Tensor> all = model.tensors();
  if (average)
    for (auto& t : average->tensors()) all.push_back(t);
  for (auto& t : adam.moments()) all.push_back(t);
  group_->broadcast_from_rank0(all, "sharing rank 0's starting weights");
  buckets_ = std::make_unique<distributed::GradientBuckets>(model.parameters(), *group_);
}

void DataParallel::synchronise_batch_norm(Network& model) {
  if (world_size() < 2 || !model.config().batch_norm) return;
  batch_norm_group_ = group_->subgroup("batch-norm");
  model.synchronise_batch_norm(batch_norm_group_.get());
}

void DataParallel::share_running_statistics(Network& model) {
  if (batch_norm_group_) return;  // every rank computed the same statistics
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> buffers = running_statistics(model);
  if (!buffers.empty()) group_->broadcast_from_rank0(buffers, "sharing batch-norm statistics");
}

DataParallel::Agreement DataParallel::agree(double loss, bool stop) {
  std::vector<at::Tensor> shared{at::tensor({loss, stop ? 1.0 : 0.0}, at::kDouble)};
  group_->all_reduce_sum(shared, "loss all-reduce");
  const double* v = shared[0].data_ptr<double>();
  return {v[0] / world_size(), v[1] > 0};
}

}  // namespace segkit::unet
