// Which image each crop of an epoch comes from: W ranks of batch b together take what one
// process of batch W·b takes, step by step.
#include <gtest/gtest.h>

#include "models/unet/crop_schedule.h"

using segkit::unet::epoch_crop_images;

TEST(CropSchedule, RanksInterleaveToTheOneProcessSchedule) {
  const int steps = 7, batch = 3;
  for (int world : {2, 3}) {
    const int64_t images = 6;  // a multiple of both world sizes
    for (int epoch : {1, 2}) {
      const auto one = epoch_crop_images(images, 0, 1, 5, epoch, int64_t{steps} * batch * world);
      for (int rank = 0; rank < world; ++rank) {
        const auto mine = epoch_crop_images(images, rank, world, 5, epoch, int64_t{steps} * batch);
        for (int s = 0; s < steps; ++s)
          for (int j = 0; j < batch; ++j)
            ASSERT_EQ(mine[s * batch + j], one[(s * batch + j) * world + rank])
                << "world " << world << " rank " << rank << " step " << s << " slot " << j;
      }
    }
  }
}

TEST(CropSchedule, EachPassTakesEveryImageOnce) {
  const auto order = epoch_crop_images(5, 0, 1, 0, 3, 12);  // two whole passes and a part
  ASSERT_EQ(order.size(), 12u);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<int64_t> seen(order.begin() + 5 * pass, order.begin() + 5 * pass + 5);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  }
  EXPECT_NE(epoch_crop_images(20, 0, 1, 0, 1, 20), epoch_crop_images(20, 0, 1, 0, 2, 20));
}
