#pragma once
// Which training image each crop of an epoch is cut from, on one rank of a data-parallel run
// (world size 1 without one). An epoch's crops come from whole passes over the images, pass k
// of the run being DistributedSampler's epoch k (shuffled with seed + k); each rank takes its
// share of every pass, in order. Rank r's crop j of step s is then the epoch's crop
// (s·b + j)·W + r, slot j·W + r of the step: when the image count is a multiple of W, W ranks
// of batch b take exactly the crops one process of batch W·b takes, step by step.
#include <cstdint>
#include <vector>

namespace segkit::unet {

// The images of this rank's `crops_per_epoch` crops of `epoch` (from 1).
std::vector<int64_t> epoch_crop_images(int64_t images, int rank, int world_size, uint64_t seed, int epoch,
                                       int64_t crops_per_epoch);

}  // namespace segkit::unet
