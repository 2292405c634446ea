// kernels/cpu/winograd_conv against ATen's direct convolution: several bands of rows (the
// bands' edges read their neighbours' rows, the map's edges zeros), batch items, a bias, and
// inputs in either memory format.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/randn.h>

#include <string>

#include "kernels/aten_path.h"
#include "kernels/cpu/winograd_conv.h"
#include "segkit/error.h"
#include "test_util.h"

using segkit::kernels::WinogradConv3x3;

namespace {

double relative_l2(const at::Tensor& got, const at::Tensor& want) {
  return ((got - want).norm() / want.norm()).item<double>();
}

}  // namespace

TEST(WinogradConv3x3, EqualsTheDirectConvolution) {
  const at::Tensor weight = at::randn({48, 32, 3, 3}) / 17, bias = at::randn({48});
  const auto conv = WinogradConv3x3::prepare(weight, bias);
  if (!conv) GTEST_SKIP() << "no oneDNN Winograd kernel on this CPU";
  // 70 rows: three bands; 37 columns: a partial last tile.
  for (const bool channels_last : {true, false}) {
    SCOPED_TRACE(channels_last ? "channels-last input" : "contiguous input");
    at::Tensor x = at::randn({2, 32, 70, 37});
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    ASSERT_TRUE(conv->supports(x));
    const at::Tensor got = (*conv)(x);
    EXPECT_TRUE(got.is_contiguous(at::MemoryFormat::ChannelsLast));
    const at::Tensor want = at::conv2d(x.contiguous(), weight, bias, 1, 1);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(relative_l2(got, want), 1e-5);
    // The last row and column, where the zero padding decides, on their own.
    EXPECT_LT(relative_l2(got.select(2, 69), want.select(2, 69)), 1e-5);
    EXPECT_LT(relative_l2(got.select(3, 36), want.select(3, 36)), 1e-5);
  }
  // Without a bias; a map of one band.
  const auto plain = WinogradConv3x3::prepare(weight, at::Tensor());
  ASSERT_TRUE(plain);
  const at::Tensor x = at::randn({1, 32, 9, 12});
  EXPECT_LT(relative_l2((*plain)(x), at::conv2d(x, weight, {}, 1, 1)), 1e-5);
}

TEST(WinogradConv3x3, RefusesWhatItCannotRun) {
  EXPECT_FALSE(WinogradConv3x3::prepare(at::randn({16, 16, 1, 1}), at::Tensor()));  // not 3×3
  EXPECT_FALSE(WinogradConv3x3::prepare(at::randn({16, 16, 3, 3}).to(at::kDouble), at::Tensor()));
  EXPECT_FALSE(WinogradConv3x3::prepare(at::randn({16, 16, 3, 3}), at::randn({8})));  // bias of another size
  const auto conv = WinogradConv3x3::prepare(at::randn({16, 32, 3, 3}), at::Tensor());
  if (!conv) GTEST_SKIP() << "no oneDNN Winograd kernel on this CPU";
  const at::Tensor wrong_channels = at::randn({1, 16, 8, 8});
  EXPECT_FALSE(conv->supports(wrong_channels));
  const std::string error = segkit::test::error_of([&] { (*conv)(wrong_channels); });
  EXPECT_NE(error.find("16 channels (expects 32)"), std::string::npos) << error;
}

TEST(WinogradConv3x3, StepsAsideWhileTheAtenPathIsForced) {
  const auto conv = WinogradConv3x3::prepare(at::randn({16, 16, 3, 3}), at::Tensor());
  if (!conv) GTEST_SKIP() << "no oneDNN Winograd kernel on this CPU";
  const at::Tensor x = at::randn({1, 16, 8, 8});
  EXPECT_TRUE(conv->supports(x));
  segkit::kernels::ForceAtenPath aten;
  EXPECT_FALSE(conv->supports(x));
}
