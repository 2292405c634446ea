// kernels/cpu/resize_threshold against ATen's upsample_bilinear2d and a comparison: the same
// decisions, pixel for pixel, up and down, for odd sizes and values crowding the threshold.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <limits>

#include "kernels/cpu/resize_threshold.h"
#include "test_util.h"

using namespace segkit;

namespace {

at::Tensor reference(const at::Tensor& values, int64_t height, int64_t width, float threshold) {
  return at::upsample_bilinear2d(values.unsqueeze(0), {height, width}, false)[0] > threshold;
}

}  // namespace

TEST(ResizeThreshold, EqualsAtenThenAComparison) {
  if (!kernels::resize_threshold_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown";
  struct Case {
    int64_t channels, h, w, height, width;
  };
  for (const Case& c : {Case{3, 72, 72, 1200, 1800}, Case{5, 17, 23, 41, 7}, Case{2, 288, 288, 100, 150},
                        Case{4, 9, 9, 9, 9}, Case{2, 1, 1, 5, 6}, Case{37, 20, 30, 61, 83}}) {
    SCOPED_TRACE(std::to_string(c.h) + "x" + std::to_string(c.w) + " -> " + std::to_string(c.height) + "x" +
                 std::to_string(c.width));
    // Values near 0.5, so that many interpolated pixels fall within rounding of the threshold.
    const at::Tensor values = 0.5f + (at::rand({c.channels, c.h, c.w}) - 0.5f) * 1e-3f;
    const at::Tensor got = kernels::resize_threshold(values, c.height, c.width, 0.5f);
    ASSERT_EQ(got.sizes(), at::IntArrayRef({c.channels, c.height, c.width}));
    EXPECT_TRUE(got.equal(reference(values, c.height, c.width, 0.5f)));
    const at::Tensor spread = at::rand({c.channels, c.h, c.w});
    EXPECT_TRUE(kernels::resize_threshold(spread, c.height, c.width, 0.3f).equal(reference(spread, c.height, c.width, 0.3f)));
  }
}

TEST(ResizeThreshold, NanIsNotAboveAndBadInputIsRefused) {
  if (!kernels::resize_threshold_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown";
  at::Tensor values = at::rand({2, 4, 4}) + 1.0f;  // every value above 0.5
  values[0][1][1] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor got = kernels::resize_threshold(values, 8, 8, 0.5f);
  EXPECT_TRUE(got.equal(reference(values, 8, 8, 0.5f)));
  EXPECT_FALSE(got[0].all().item<bool>());  // NaN spread to its neighbours: not above
  EXPECT_TRUE(got[1].all().item<bool>());
  EXPECT_NE(test::error_of([] { kernels::resize_threshold(at::rand({4, 4}), 8, 8, 0.5f); }).find("channels × height"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { kernels::resize_threshold(at::rand({2, 4, 4}), 0, 8, 0.5f); }).find("positive"),
            std::string::npos);
}
