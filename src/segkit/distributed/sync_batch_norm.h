#pragma once
// Batch norm in training over the global batch of data-parallel training, as
// torch.nn.SyncBatchNorm behaves: each rank's per-channel sum, sum of squares and count are
// all-reduced, and every rank normalises its samples with the mean and (biased) variance of all
// ranks' samples together. Backward all-reduces the two per-channel sums the input gradient
// needs (of the output gradient, and of it times the centred input), so that each rank's input
// gradient is that of the global normalisation; the weight and bias gradients stay per rank,
// for the gradient buckets to average. The running statistics move towards the global mean and
// unbiased variance, the same on every rank.
#include <ATen/core/Tensor.h>

#include "distributed/process_group.h"

namespace segkit::distributed {

// `input`: float32 N×C×H×W (any memory format); `weight`, `bias`: C (required);
// `running_mean`, `running_var`: C, updated in place. Every rank of `group` must call it for the
// same layers in the same order, in forward and (through autograd) in backward.
at::Tensor sync_batch_norm(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var, double momentum, double eps,
                           ProcessGroup& group);

}  // namespace segkit::distributed
