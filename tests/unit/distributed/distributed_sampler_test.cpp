// DistributedSampler's semantics, worked out by hand from its definition for small cases.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randperm.h>
#include <gtest/gtest.h>

#include "distributed/distributed_sampler.h"

using segkit::distributed::distributed_sampler_indices;
using Indices = std::vector<int64_t>;

TEST(DistributedSampler, WithoutShufflePadsFromTheStart) {
  // 10 items over 3 ranks: 0..9 padded with 0, 1 to 12, then every third from the rank.
  EXPECT_EQ(distributed_sampler_indices(10, 0, 3, false, 0, 0), (Indices{0, 3, 6, 9}));
  EXPECT_EQ(distributed_sampler_indices(10, 1, 3, false, 0, 0), (Indices{1, 4, 7, 0}));
  EXPECT_EQ(distributed_sampler_indices(10, 2, 3, false, 0, 0), (Indices{2, 5, 8, 1}));
  EXPECT_EQ(distributed_sampler_indices(5, 1, 2, false, 7, 3), (Indices{1, 3, 0}));
  EXPECT_EQ(distributed_sampler_indices(6, 1, 2, false, 0, 0), (Indices{1, 3, 5}));
  // More padding than items: [0, 1] repeated to [0, 1, 0, 1, 0].
  for (int r = 0; r < 5; ++r) EXPECT_EQ(distributed_sampler_indices(2, r, 5, false, 0, 0), (Indices{r % 2}));
}

TEST(DistributedSampler, ShuffleIsTorchRandpermSeededWithSeedPlusEpoch) {
  for (const auto& [seed, epoch] : {std::pair<uint64_t, int64_t>{0, 0}, {0, 3}, {42, 1}}) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed + epoch);
    const at::Tensor perm = at::randperm(7, g, at::kLong);
    const int64_t* p = perm.data_ptr<int64_t>();
    // 7 items over 2 ranks: the permutation padded with its first item.
    const Indices padded{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[0]};
    EXPECT_EQ(distributed_sampler_indices(7, 0, 2, true, seed, epoch), (Indices{padded[0], padded[2], padded[4], padded[6]}));
    EXPECT_EQ(distributed_sampler_indices(7, 1, 2, true, seed, epoch), (Indices{padded[1], padded[3], padded[5], padded[7]}));
  }
  // A new epoch is a new order; the same epoch is the same order.
  EXPECT_NE(distributed_sampler_indices(50, 0, 1, true, 0, 0), distributed_sampler_indices(50, 0, 1, true, 0, 1));
  EXPECT_EQ(distributed_sampler_indices(50, 0, 1, true, 0, 1), distributed_sampler_indices(50, 0, 1, true, 1, 0));
}
