// kernels/cpu/resize_planes against ATen's upsample_bilinear2d: every value of any band of rows
// bit for bit, and the thresholded decisions pixel for pixel, up and down, for odd sizes and
// values crowding the threshold.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <algorithm>
#include <limits>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/cpu/resize_planes.h"
#include "test_util.h"

using namespace segkit;

namespace {

struct Case {
  int64_t channels, h, w, height, width;
};

// Up (Mask2Former's 1/4-size logits to 384, SAM 3's 288 to a photo) and down, odd sizes, equal
// sizes (ATen's copy branch), single rows and columns, and output widths below, at and past 16
// lanes. Not a 1×1 input: ATen takes its channels-last kernel for it (a K×1×1 map is
// channels-last too), whose values differ in the last bit.
const Case kCases[] = {{3, 72, 72, 1200, 1800}, {5, 17, 23, 41, 7},   {2, 288, 288, 100, 150}, {4, 9, 9, 9, 9},
                       {2, 1, 2, 5, 6},         {2, 3, 1, 5, 6},      {37, 20, 30, 61, 83},    {6, 200, 304, 384, 384},
                       {3, 400, 608, 384, 384}};

std::string text(const Case& c) {
  return std::to_string(c.channels) + "×" + std::to_string(c.h) + "×" + std::to_string(c.w) + " → " +
         std::to_string(c.height) + "×" + std::to_string(c.width);
}

at::Tensor aten_resized(const at::Tensor& values, int64_t height, int64_t width) {
  return at::upsample_bilinear2d(values.unsqueeze(0), {height, width}, false)[0];
}

}  // namespace

TEST(ResizePlanes, BandsOfRowsEqualAtenToTheBit) {
  if (!kernels::resize_planes_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown";
  for (const Case& c : kCases) {
    SCOPED_TRACE(text(c));
    const at::Tensor values = at::randn({c.channels, c.h, c.w}) * 4;
    const at::Tensor expected = aten_resized(values, c.height, c.width);
    const kernels::PlaneResize resize(values, c.height, c.width);
    ASSERT_EQ(resize.channels(), c.channels);
    ASSERT_EQ(resize.height(), c.height);
    ASSERT_EQ(resize.width(), c.width);
    // Bands of 1, 3 and 7 rows, each starting where the last ended (the source rows a band keeps
    // start afresh in each), and the whole height at once.
    for (int64_t band : {int64_t(1), int64_t(3), int64_t(7), c.height}) {
      for (int64_t first = 0; first < c.height; first += band) {
        const int64_t rows = std::min(band, c.height - first);
        at::Tensor got = at::empty({c.channels, rows, c.width});
        resize.rows(first, first + rows, got.data_ptr<float>());
        EXPECT_TRUE(got.equal(expected.narrow(1, first, rows))) << "band of " << band << " from row " << first;
      }
    }
    // Bands written in place into the whole output, a channel's rows a plane apart.
    at::Tensor whole = at::empty({c.channels, c.height, c.width});
    for (int64_t first = 0; first < c.height; first += 5)
      resize.rows(first, std::min(first + 5, c.height), whole.data_ptr<float>() + first * c.width, c.height * c.width);
    EXPECT_TRUE(whole.equal(expected));
  }
}

TEST(ResizePlanes, ThresholdEqualsAtenThenAComparison) {
  if (!kernels::resize_planes_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown";
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.push_back({2, 1, 1, 5, 6});  // a last bit apart from ATen's values, never across the threshold here
  for (const Case& c : cases) {
    SCOPED_TRACE(text(c));
    // Values near 0.5, so that many interpolated pixels fall within rounding of the threshold.
    const at::Tensor values = 0.5f + (at::rand({c.channels, c.h, c.w}) - 0.5f) * 1e-3f;
    const at::Tensor got = kernels::resize_threshold(values, c.height, c.width, 0.5f);
    ASSERT_EQ(got.sizes(), at::IntArrayRef({c.channels, c.height, c.width}));
    EXPECT_TRUE(got.equal(aten_resized(values, c.height, c.width) > 0.5f));
    const at::Tensor spread = at::rand({c.channels, c.h, c.w});
    EXPECT_TRUE(kernels::resize_threshold(spread, c.height, c.width, 0.3f).equal(aten_resized(spread, c.height, c.width) > 0.3f));
  }
}

TEST(ResizePlanes, NanIsNotAboveAndBadInputIsRefused) {
  if (!kernels::resize_planes_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown";
  at::Tensor values = at::rand({2, 4, 4}) + 1.0f;  // every value above 0.5
  values[0][1][1] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor got = kernels::resize_threshold(values, 8, 8, 0.5f);
  EXPECT_TRUE(got.equal(aten_resized(values, 8, 8) > 0.5f));
  EXPECT_FALSE(got[0].all().item<bool>());  // NaN spread to its neighbours: not above
  EXPECT_TRUE(got[1].all().item<bool>());
  EXPECT_NE(test::error_of([] { kernels::resize_threshold(at::rand({4, 4}), 8, 8, 0.5f); }).find("channels × height"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { kernels::resize_threshold(at::rand({2, 4, 4}), 0, 8, 0.5f); }).find("positive"),
            std::string::npos);
  const kernels::PlaneResize resize(at::rand({2, 4, 4}), 8, 8);
  float out[2 * 8 * 8];
  EXPECT_NE(test::error_of([&] { resize.rows(4, 9, out); }).find("outside"), std::string::npos);
  EXPECT_NE(test::error_of([&] { resize.rows(5, 4, out); }).find("outside"), std::string::npos);
  EXPECT_NE(test::error_of([&] { resize.rows(0, 2, out, 8); }).find("overlap"), std::string::npos);
}
