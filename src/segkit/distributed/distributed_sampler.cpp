#include "distributed/distributed_sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randperm.h>

#include "segkit/error.h"

namespace segkit::distributed {

std::vector<int64_t> distributed_sampler_indices(int64_t items, int rank, int world_size, bool shuffle, uint64_t seed,
                                                 int64_t epoch) {
  if (items < 1 || world_size < 1 || rank < 0 || rank >= world_size)
    fail("distributed sampler", "needs items >= 1 and 0 <= rank < world size");
  std::vector<int64_t> order(items);
  if (shuffle) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(epoch));
    const at::Tensor permutation = at::randperm(items, generator, at::kLong);
    const int64_t* p = permutation.data_ptr<int64_t>();
    order.assign(p, p + items);
  } else {
    for (int64_t i = 0; i < items; ++i) order[i] = i;
  }
  const int64_t per_rank = (items + world_size - 1) / world_size;
  std::vector<int64_t> mine;
  mine.reserve(per_rank);
  // Padding repeats the order from its start (more than once when world_size > 2 * items).
  for (int64_t k = 0; k < per_rank; ++k) mine.push_back(order[(k * world_size + rank) % items]);
  return mine;
}

}  // namespace segkit::distributed
