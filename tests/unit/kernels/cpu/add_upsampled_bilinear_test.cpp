// kernels/cpu/add_upsampled_bilinear: out += upsample_bilinear2d(x) (align_corners=False) in
// place, against ATen's ops, for integer and fractional scales and the fallback layouts.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/cpu/add_upsampled_bilinear.h"
#include "segkit/error.h"

using namespace segkit;

namespace {

void expect_matches_aten(const at::Tensor& out_in, const at::Tensor& x) {
  const at::Tensor want = out_in + at::upsample_bilinear2d(x, {out_in.size(2), out_in.size(3)}, false);
  at::Tensor out = out_in.clone(out_in.suggest_memory_format());
  const void* data = out.data_ptr();
  kernels::add_upsampled_bilinear_(out, x);
  EXPECT_EQ(out.data_ptr(), data);
  EXPECT_TRUE(at::allclose(out, want, 1e-6, 1e-6)) << (out - want).abs().max().item<float>();
}

at::Tensor channels_last(const at::Tensor& t) { return t.contiguous(at::MemoryFormat::ChannelsLast); }

}  // namespace

TEST(AddUpsampledBilinear, MatchesATenForAnyScale) {
  const at::Tensor x = channels_last(at::randn({2, 20, 5, 7}));
  expect_matches_aten(channels_last(at::randn({2, 20, 10, 14})), x);  // ×2, the FPN's case
  expect_matches_aten(channels_last(at::randn({2, 20, 13, 9})), x);   // fractional, rows and columns differ
  expect_matches_aten(channels_last(at::randn({2, 20, 5, 7})), x);    // the same size: an add
  expect_matches_aten(channels_last(at::randn({2, 20, 3, 4})), x);    // smaller: bilinear downsampling
}

TEST(AddUpsampledBilinear, OtherLayoutsTakeATensOps) {
  expect_matches_aten(at::randn({1, 6, 8, 6}), at::randn({1, 6, 4, 3}));                  // contiguous
  expect_matches_aten(channels_last(at::randn({1, 6, 8, 6})), at::randn({1, 6, 4, 3}));  // mixed
}

TEST(AddUpsampledBilinear, RefusesMapsThatDoNotPair) {
  at::Tensor out = channels_last(at::zeros({1, 6, 8, 8}));
  EXPECT_THROW(kernels::add_upsampled_bilinear_(out, channels_last(at::zeros({1, 5, 4, 4}))), Error);
  EXPECT_THROW(kernels::add_upsampled_bilinear_(out, channels_last(at::zeros({2, 6, 4, 4}))), Error);
  EXPECT_THROW(kernels::add_upsampled_bilinear_(out, at::zeros({6, 4, 4})), Error);
}
