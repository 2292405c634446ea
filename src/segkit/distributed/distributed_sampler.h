#pragma once
// Which data set items a rank takes in one pass, with the semantics of PyTorch's
// torch.utils.data.DistributedSampler (drop_last=False): the items 0..n-1, shuffled with
// torch.randperm(n) from a generator seeded with seed + epoch when shuffling, padded by
// repeating from the start up to a multiple of the world size, then every world_size-th item
// from position `rank`. Every rank gets ceil(n / world_size) items.
#include <cstdint>
#include <vector>

namespace segkit::distributed {

std::vector<int64_t> distributed_sampler_indices(int64_t items, int rank, int world_size, bool shuffle, uint64_t seed,
                                                 int64_t epoch);

}  // namespace segkit::distributed
