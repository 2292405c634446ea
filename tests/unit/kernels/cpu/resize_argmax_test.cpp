// kernels/cpu/resize_argmax against ATen itself: every interpolated value bit for bit against
// at::upsample_bilinear2d (align_corners=False), and the labels against its argmax over channels,
// on shapes that take every branch of the index and weight computation.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/resize_argmax.h"
#include "segkit/error.h"

using namespace segkit;

namespace {

struct Shape {
  int64_t channels, height, width, out_height, out_width;
};

std::string text(const Shape& s) {
  return std::to_string(s.channels) + "×" + std::to_string(s.height) + "×" + std::to_string(s.width) + " → " +
         std::to_string(s.out_height) + "×" + std::to_string(s.out_width);
}

// Up and down, odd sizes, ratios inexact in float (384/1800, 384/1200), one axis kept (ATen's
// copy branch), a 1×1 and a single-row output, one row of input, and channel counts below, at and
// around the 16 lanes (133: the COCO panoptic labels).
const std::vector<Shape> kShapes{
    {2, 5, 7, 13, 11},     {3, 384, 384, 1200, 1800}, {5, 7, 9, 13, 5},   {16, 384, 384, 97, 211},
    {17, 10, 10, 10, 33},  {133, 24, 24, 75, 113},    {2, 11, 13, 1, 1},  {31, 9, 6, 1, 17},
    {4, 1, 6, 5, 9},       {33, 6, 1, 7, 4},          {15, 8, 8, 8, 8},   {20, 384, 384, 384, 385},
};

// K×h×w maps as the kernel takes them (h×w×K) and as ATen does (1×K×h×w).
at::Tensor channels_last(const at::Tensor& maps) { return maps.permute({1, 2, 0}).contiguous(); }

at::Tensor aten_resized(const at::Tensor& maps, const Shape& s) {
  return at::upsample_bilinear2d(maps.unsqueeze(0), {s.out_height, s.out_width}, false)[0];
}

int64_t bitwise_differences(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  const at::Tensor x = a.contiguous(), y = b.contiguous();
  const float *p = x.data_ptr<float>(), *q = y.data_ptr<float>();
  int64_t differences = 0;
  for (int64_t i = 0; i < x.numel(); ++i) differences += std::memcmp(p + i, q + i, sizeof(float)) != 0;
  return differences;
}

#define SKIP_WITHOUT_KERNEL()                                                                \
  if (!kernels::resize_argmax_available()) GTEST_SKIP() << "no AVX-512, or ATen's arithmetic is unknown"

}  // namespace

TEST(ResizeArgmax, FindsAtenArithmetic) {
  kernels::BilinearArithmetic arithmetic;
  ASSERT_TRUE(kernels::aten_bilinear_arithmetic(arithmetic));
  std::cout << "ATen's bilinear arithmetic here: "
            << (arithmetic == kernels::BilinearArithmetic::fused ? "fused (FMA)" : "separate") << "\n";
}

TEST(ResizeArgmax, TapsAsAten) {
  // Rows 0 and 1 of 2 → 4: ratio 0.5, sources −0.25 (clamped to 0), 0.25, 0.75, 1.25 (last).
  const std::vector<kernels::BilinearTap> taps = kernels::bilinear_taps(2, 4);
  ASSERT_EQ(taps.size(), 4u);
  const float second[] = {0.0f, 0.25f, 0.75f, 0.25f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(taps[size_t(i)].first, i < 3 ? 0 : 1);
    EXPECT_EQ(taps[size_t(i)].second, 1);
    EXPECT_EQ(taps[size_t(i)].second_weight, second[i]);
    EXPECT_EQ(taps[size_t(i)].first_weight, 1.0f - second[i]);
  }
  for (const kernels::BilinearTap& t : kernels::bilinear_taps(3, 3)) EXPECT_EQ(t.second_weight, 0.0f);
}

TEST(ResizeArgmax, ValuesBitForBitAsAten) {
  SKIP_WITHOUT_KERNEL();
  at::manual_seed(7);
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(text(s));
    // Logit-like values with full mantissas, positive and negative.
    const at::Tensor maps = at::rand({s.channels, s.height, s.width}) * 8 - 4;
    const at::Tensor expected = channels_last(aten_resized(maps, s));
    EXPECT_EQ(bitwise_differences(kernels::resize_values(channels_last(maps), s.out_height, s.out_width), expected), 0);
  }
}

TEST(ResizeArgmax, LabelsAsAtenArgmax) {
  SKIP_WITHOUT_KERNEL();
  at::manual_seed(8);
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(text(s));
    // Probabilities, then few distinct values: many ties, where the earliest channel wins.
    for (const at::Tensor& maps : {at::rand({s.channels, s.height, s.width}),
                                   at::randint(0, 3, {s.channels, s.height, s.width}).to(at::kFloat) / 2}) {
      const at::Tensor expected = aten_resized(maps, s).argmax(0).to(at::kInt);
      EXPECT_TRUE(kernels::resize_argmax(channels_last(maps), s.out_height, s.out_width).equal(expected));
    }
  }
}

TEST(ResizeArgmax, NansAndInfinitiesAsAtenArgmax) {
  SKIP_WITHOUT_KERNEL();
  // ±inf interpolate to ±inf or NaN (inf·0); torch's argmax takes the first NaN of a pixel.
  at::manual_seed(9);
  const Shape s{37, 12, 10, 29, 23};
  at::Tensor maps = at::rand({s.channels, s.height, s.width});
  const at::Tensor pick = at::rand(maps.sizes());
  maps.masked_fill_(pick < 0.01, std::numeric_limits<float>::quiet_NaN());
  maps.masked_fill_((pick >= 0.01) & (pick < 0.02), std::numeric_limits<float>::infinity());
  maps.masked_fill_((pick >= 0.02) & (pick < 0.03), -std::numeric_limits<float>::infinity());
  const at::Tensor resized = aten_resized(maps, s);
  EXPECT_EQ(bitwise_differences(kernels::resize_values(channels_last(maps), s.out_height, s.out_width),
                                channels_last(resized)),
            0);
  EXPECT_TRUE(kernels::resize_argmax(channels_last(maps), s.out_height, s.out_width).equal(resized.argmax(0).to(at::kInt)));
  // All −inf: channel 0.
  const at::Tensor lowest = at::full({3, 4, 4}, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(kernels::resize_argmax(channels_last(lowest), 5, 5).max().item<int32_t>(), 0);
}

TEST(ResizeArgmax, ScaledWithCountsAsAten) {
  SKIP_WITHOUT_KERNEL();
  // Mask2Former's panoptic post-processing: each resized mask times its query's score, the owner
  // of each pixel, and each mask's area at or above the threshold.
  at::manual_seed(10);
  for (const Shape& s : {Shape{7, 384, 384, 300, 451}, Shape{19, 16, 12, 40, 9}}) {
    SCOPED_TRACE(text(s));
    const at::Tensor maps = at::rand({s.channels, s.height, s.width});
    const at::Tensor scores = at::rand({s.channels});
    const float threshold = 0.3f;
    const at::Tensor weighted = aten_resized(maps, s) * scores.view({-1, 1, 1});
    std::vector<int64_t> counts;
    const at::Tensor labels =
        kernels::resize_argmax(channels_last(maps), s.out_height, s.out_width, scores, threshold, &counts);
    EXPECT_TRUE(labels.equal(weighted.argmax(0).to(at::kInt)));
    const at::Tensor expected_counts = weighted.ge(threshold).sum({1, 2}).contiguous();
    ASSERT_EQ(int64_t(counts.size()), s.channels);
    for (int64_t c = 0; c < s.channels; ++c) EXPECT_EQ(counts[size_t(c)], expected_counts[c].item<int64_t>()) << c;
  }
}

TEST(ResizeArgmax, BandsOfSourceRowsAsTheWholeMap) {
  SKIP_WITHOUT_KERNEL();
  // The banded form (Mask2Former's post-processing makes the 384×384 values band by band): every
  // band of source rows, given with the row after it, yields the output rows whose upper source
  // row it holds; together they make resize_argmax's labels and counts, up and down.
  at::manual_seed(11);
  for (const Shape& s : {Shape{7, 384, 384, 300, 451}, Shape{19, 16, 12, 40, 9}, Shape{5, 24, 20, 7, 33},
                         Shape{3, 9, 9, 9, 9}}) {
    SCOPED_TRACE(text(s));
    const at::Tensor values = channels_last(at::rand({s.channels, s.height, s.width}));
    const at::Tensor scores = at::rand({s.channels});
    std::vector<int64_t> expected_counts;
    const at::Tensor expected = kernels::resize_argmax(values, s.out_height, s.out_width, scores, 0.3f, &expected_counts);
    const kernels::BandedResizeArgmax banded(s.height, s.width, s.channels, s.out_height, s.out_width,
                                             scores.data_ptr<float>(), 0.3f);
    for (int64_t band : {int64_t(1), int64_t(5), s.height}) {
      at::Tensor labels = at::full({s.out_height, s.out_width}, -1, at::kInt);
      std::vector<int64_t> counts(size_t(s.channels), 0);
      for (int64_t upper = 0; upper < s.height; upper += band) {
        const auto [first_out, end_out] = banded.output_rows(upper, std::min(upper + band, s.height));
        if (first_out == end_out) continue;
        const auto [first, end] = banded.source_rows(first_out, end_out);
        EXPECT_GE(first, upper);
        EXPECT_LE(end, std::min(upper + band + 1, s.height));
        // Only the band's rows, copied out: a read outside it would show under the sanitizers.
        const at::Tensor rows = values.narrow(0, first, end - first).clone();
        banded.rows(rows.data_ptr<float>(), first, end - first, first_out, end_out, labels.data_ptr<int32_t>(),
                    counts.data());
      }
      EXPECT_TRUE(labels.equal(expected)) << "bands of " << band;
      EXPECT_EQ(counts, expected_counts) << "bands of " << band;
    }
    // A band without a row its output rows read is refused.
    const auto [first_out, end_out] = banded.output_rows(0, 1);
    if (first_out < end_out && banded.source_rows(first_out, end_out).second > 1) {
      at::Tensor labels = at::empty({s.out_height, s.out_width}, at::kInt);
      const at::Tensor one_row = values.narrow(0, 0, 1).clone();
      EXPECT_THROW(banded.rows(one_row.data_ptr<float>(), 0, 1, first_out, end_out, labels.data_ptr<int32_t>()), Error);
    }
  }
}

TEST(ResizeArgmax, RefusesWhatItCannotMatch) {
  SKIP_WITHOUT_KERNEL();
  // One channel: ATen resizes it with its channels-last kernel, whose arithmetic differs.
  EXPECT_THROW(kernels::resize_argmax(at::rand({4, 4, 1}), 8, 8), Error);
  EXPECT_THROW(kernels::resize_argmax(at::rand({4, 4, 2}).to(at::kDouble), 8, 8), Error);
  EXPECT_THROW(kernels::resize_argmax(at::rand({4, 4, 2}), 0, 8), Error);
  EXPECT_THROW(kernels::resize_argmax(at::rand({4, 4, 2}), 8, 8, at::rand({3})), Error);
}
