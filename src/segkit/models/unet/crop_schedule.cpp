#include "models/unet/crop_schedule.h"

#include "distributed/distributed_sampler.h"

namespace segkit::unet {

std::vector<int64_t> epoch_crop_images(int64_t images, int rank, int world_size, uint64_t seed, int epoch,
                                       int64_t crops_per_epoch) {
  const int64_t per_pass = (images + world_size - 1) / world_size;  // the same on every rank
  const int64_t passes = (crops_per_epoch + per_pass - 1) / per_pass;
  std::vector<int64_t> order;
  order.reserve(passes * per_pass);
  for (int64_t k = 0; k < passes; ++k) {
    const auto pass = distributed::distributed_sampler_indices(images, rank, world_size, true, seed,
                                                               static_cast<int64_t>(epoch - 1) * passes + k);
    order.insert(order.end(), pass.begin(), pass.end());
  }
  order.resize(crops_per_epoch);
  return order;
}

}  // namespace segkit::unet
