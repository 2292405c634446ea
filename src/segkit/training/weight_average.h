#pragma once
// An exponential moving average of a network's weights and batch-norm statistics, kept beside
// the network being trained (Polyak averaging). The average of the last few hundred steps is
// steadier than any single step's weights, which removes most of the epoch-to-epoch noise of
// validation scores late in training.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace segkit::training {

// For two networks' tensors in the same order (same configuration), updated in place:
// average ← d·average + (1 − d)·current for every floating-point tensor, with
// d = min(decay, (1 + step) / (10 + step)) so that the first steps are not dominated by the
// random initialisation; integer tensors (batches seen) are copied. `step` counts from 1.
void update_average(const std::vector<at::Tensor>& average, const std::vector<at::Tensor>& current, double decay,
                    int64_t step);

// Copies every tensor of `source` into `destination`, in place.
void copy_state(const std::vector<at::Tensor>& destination, const std::vector<at::Tensor>& source);

}  // namespace segkit::training
