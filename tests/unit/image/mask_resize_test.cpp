// image/mask_resize: upstream's postprocess_masks (bilinear up, crop, bilinear to the
// original size) as one composed separable resampling, checked against ATen's two float
// bilinear passes (upstream's arithmetic) for enlarged and shrunk originals, odd sizes and
// batches: the same weights, so only the order of the float sums differs.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include "image/mask_resize.h"

namespace {

at::Tensor two_passes(const at::Tensor& low_res, int image_size, std::array<int, 2> input, std::array<int, 2> original) {
  at::Tensor x = at::upsample_bilinear2d(low_res, {image_size, image_size}, false);
  x = x.slice(2, 0, input[0]).slice(3, 0, input[1]);
  return at::upsample_bilinear2d(x, {original[0], original[1]}, false);
}

void expect_same_as_two_passes(int low, int image_size, std::array<int, 2> input, std::array<int, 2> original, int planes) {
  at::manual_seed(low + original[0] + original[1]);
  const at::Tensor logits = at::randn({1, planes, low, low}) * 8;
  const at::Tensor got = segkit::sam::resize_mask_logits(logits, image_size, input, original);
  ASSERT_TRUE(got.defined());
  const at::Tensor want = two_passes(logits, image_size, input, original);
  ASSERT_EQ(got.sizes(), want.sizes());
  const double err = (got.to(at::kDouble) - want).abs().max().item<double>();
  EXPECT_LT(err, 1e-5) << original[0] << "x" << original[1];
}

}  // namespace

TEST(MaskResize, MatchesUpstreamsTwoBilinearPasses) {
  expect_same_as_two_passes(256, 1024, {683, 1024}, {1200, 1800}, 3);  // landscape photo, enlarged
  expect_same_as_two_passes(256, 1024, {1024, 768}, {640, 480}, 2);    // portrait, shrunk
  expect_same_as_two_passes(256, 1024, {1024, 1024}, {1024, 1024}, 1); // square at the input size
  expect_same_as_two_passes(16, 64, {37, 64}, {101, 173}, 4);          // odd sizes (small models)
  expect_same_as_two_passes(16, 64, {64, 7}, {9, 1}, 1);               // thin
}

TEST(MaskResize, LeavesWhatItDoesNotHandleToTheCaller) {
  EXPECT_FALSE(segkit::sam::resize_mask_logits(at::randn({1, 1, 32, 32}).to(at::kDouble), 64, {64, 64}, {64, 64}).defined());
  EXPECT_FALSE(segkit::sam::resize_mask_logits(at::randn({1, 1, 128, 128}), 64, {64, 64}, {64, 64}).defined());
}
