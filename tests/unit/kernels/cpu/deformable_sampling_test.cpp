// kernels/cpu/deformable_sampling's hand-written kernel against its ATen path, the composition of
// ATen ops transformers uses (grid_sample per level on head-split maps, then the
// attention-weighted sum), with points on and far beyond the borders where the zero padding
// decides the result.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/tensor.h>

#include <vector>

#include "kernels/aten_path.h"
#include "kernels/cpu/deformable_sampling.h"
#include "segkit/error.h"
#include "test_util.h"

using namespace segkit;
using kernels::LevelShape;

namespace {

// The ATen path (what runs on a GPU): transformers' multi_scale_deformable_attention, grid_sample
// per level on head-split maps, then the attention-weighted sum.
at::Tensor reference(const at::Tensor& value, const std::vector<LevelShape>& levels, const at::Tensor& locations,
                     const at::Tensor& weights) {
  kernels::ForceAtenPath aten;
  return kernels::deformable_sampling(value, levels, locations, weights);
}

double max_abs_difference(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

struct Case {
  std::vector<LevelShape> levels;
  at::Tensor value, locations, weights;
};

Case random_case(int64_t batch, int64_t queries, int64_t heads, int64_t head_dim, int64_t points,
                 std::vector<LevelShape> levels, double low, double high) {
  int64_t sequence = 0;
  for (const LevelShape& s : levels) sequence += s.height * s.width;
  const int64_t num_levels = int64_t(levels.size());
  Case c;
  c.levels = std::move(levels);
  c.value = at::randn({batch, sequence, heads, head_dim});
  c.locations = at::rand({batch, queries, heads, num_levels, points, 2}) * (high - low) + low;
  c.weights = at::softmax(at::randn({batch, queries, heads, num_levels * points}), -1)
                  .view({batch, queries, heads, num_levels, points});
  return c;
}

}  // namespace

TEST(DeformableSampling, MatchesGridSampleWellOutsideTheMaps) {
  // Odd head size, a 1×1 level and non-square ones; locations from −1 to 2 so that many points
  // have one to four neighbours outside their map, or all of them.
  const Case c = random_case(2, 37, 3, 5, 4, {{3, 5}, {4, 2}, {1, 1}, {6, 7}}, -1.0, 2.0);
  const at::Tensor got = kernels::deformable_sampling(c.value, c.levels, c.locations, c.weights);
  const at::Tensor want = reference(c.value, c.levels, c.locations, c.weights);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT(max_abs_difference(got, want), 1e-6);
}

TEST(DeformableSampling, MatchesGridSampleOnTheBorders) {
  // Pixel coordinates exactly on the edges of the padding band: −1 and size (nothing left),
  // −0.5 and size − 0.5 (half a neighbour), 0 and size − 1 (the border pixels), plus points a
  // hundred maps away, on the 6×6 level; location = (pixel + 0.5) / 6, the same relative spots
  // on the 3×2 one. Heads of 8 channels take the scalar path, of 32 the vector one.
  for (int64_t head_dim : {8, 32}) {
    SCOPED_TRACE("head size " + std::to_string(head_dim));
    const std::vector<LevelShape> levels{{6, 6}, {3, 2}};
    const std::vector<float> pixels_of_size_6{-100.f, -1.f, -0.5f, -0.25f, 0.f, 2.5f, 5.f, 5.5f, 5.75f, 6.f, 600.f};
    const int64_t n = int64_t(pixels_of_size_6.size());
    Case c = random_case(1, n * n, 2, head_dim, 1, levels, 0.0, 1.0);
    float* loc = c.locations.data_ptr<float>();
    for (int64_t q = 0; q < n * n; ++q)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t l = 0; l < 2; ++l) {
          const float fx = (pixels_of_size_6[q % n] + 0.5f) / 6.0f, fy = (pixels_of_size_6[q / n] + 0.5f) / 6.0f;
          float* xy = loc + ((q * 2 + h) * 2 + l) * 2;
          xy[0] = fx;
          xy[1] = fy;
        }
    const at::Tensor got = kernels::deformable_sampling(c.value, c.levels, c.locations, c.weights);
    const at::Tensor want = reference(c.value, c.levels, c.locations, c.weights);
    EXPECT_LT(max_abs_difference(got, want), 1e-6);
    // Points with every neighbour outside read exactly zero.
    const at::Tensor far = at::full({1, 1, 2, 2, 1, 2}, -3.0f);
    const at::Tensor ones = at::full({1, 1, 2, 2, 1}, 0.5f);
    EXPECT_EQ(kernels::deformable_sampling(c.value, c.levels, far, ones).abs().max().item<float>(), 0.0f);
  }
}

TEST(DeformableSampling, BFloat16ValueSumsInFloatAndRoundsOnce) {
  // A bfloat16 value gives the float32 result of its exact float32 widening, rounded once to
  // bfloat16, on both paths (heads of 32 and 5 channels: the vector and the scalar one).
  for (int64_t head_dim : {32, 5}) {
    SCOPED_TRACE("head size " + std::to_string(head_dim));
    const Case c = random_case(2, 41, 3, head_dim, 4, {{7, 9}, {4, 5}, {2, 3}}, -0.2, 1.2);
    const at::Tensor value = c.value.to(at::kBFloat16);
    const at::Tensor got = kernels::deformable_sampling(value, c.levels, c.locations, c.weights);
    ASSERT_EQ(got.scalar_type(), at::kBFloat16);
    const at::Tensor widened = kernels::deformable_sampling(value.to(at::kFloat), c.levels, c.locations, c.weights);
    EXPECT_TRUE(got.equal(widened.to(at::kBFloat16)));
    const at::Tensor aten = reference(value, c.levels, c.locations, c.weights);
    ASSERT_EQ(aten.scalar_type(), at::kBFloat16);
    EXPECT_LT(max_abs_difference(got.to(at::kFloat), aten.to(at::kFloat)), 0.02);
  }
}

TEST(DeformableSampling, ManyPointsPerLevelAndBatchItemsStayApart) {
  // Batch items differ only in their values: each output must read its own item.
  Case c = random_case(3, 50, 4, 16, 6, {{8, 8}, {4, 4}}, -0.2, 1.2);
  const at::Tensor got = kernels::deformable_sampling(c.value, c.levels, c.locations, c.weights);
  EXPECT_LT(max_abs_difference(got, reference(c.value, c.levels, c.locations, c.weights)), 1e-5);
  // A non-contiguous value view (every other head of a wider tensor) gives the same result.
  const at::Tensor wide = at::randn({3, 80, 8, 16});
  const at::Tensor view = wide.slice(2, 0, 8, 2);
  EXPECT_LT(max_abs_difference(kernels::deformable_sampling(view, c.levels, c.locations, c.weights),
                               reference(view, c.levels, c.locations, c.weights)),
            1e-5);
}

TEST(DeformableSampling, RejectsInconsistentShapes) {
  const Case c = random_case(1, 4, 2, 4, 3, {{2, 2}, {1, 3}}, 0.0, 1.0);
  const std::string wrong_levels =
      test::error_of([&] { kernels::deformable_sampling(c.value, {{2, 2}, {1, 2}}, c.locations, c.weights); });
  EXPECT_NE(wrong_levels.find("the levels hold 6 positions, value has 7"), std::string::npos) << wrong_levels;
  const std::string wrong_weights = test::error_of(
      [&] { kernels::deformable_sampling(c.value, c.levels, c.locations, c.weights.slice(4, 0, 2)); });
  EXPECT_NE(wrong_weights.find("attention weights"), std::string::npos) << wrong_weights;
  const std::string wrong_dtype = test::error_of(
      [&] { kernels::deformable_sampling(c.value.to(at::kDouble), c.levels, c.locations, c.weights); });
  EXPECT_NE(wrong_dtype.find("float32"), std::string::npos) << wrong_dtype;
  kernels::ForceAtenPath aten;  // the same checks before the ATen path
  const std::string aten_levels =
      test::error_of([&] { kernels::deformable_sampling(c.value, {{2, 2}, {1, 2}}, c.locations, c.weights); });
  EXPECT_NE(aten_levels.find("the levels hold 6 positions, value has 7"), std::string::npos) << aten_levels;
}

TEST(DeformableAttentionSampling, MakesLocationsAndWeightsAsTransformers) {
  // From raw offsets (pixels of each level, some far outside), reference points and logits of
  // a wide range: the kernel's own locations and softmax against the ATen composition
  // transformers uses (offsets / (W, H) + reference, softmax over levels × points), batch 2.
  const std::vector<LevelShape> levels{{5, 7}, {3, 4}, {1, 2}};
  const int64_t batch = 2, queries = 29, heads = 3, points = 4, num_levels = 3;
  const at::Tensor value = at::randn({batch, 35 + 12 + 2, heads, 32});
  const at::Tensor offsets = at::randn({batch, queries, heads, num_levels, points, 2}) * 4;
  const at::Tensor reference = at::rand({queries, 2});
  const at::Tensor logits = at::randn({batch, queries, heads, num_levels, points}) * 6;
  at::Tensor weights;
  const at::Tensor got = kernels::deformable_attention_sampling(value, levels, offsets, reference, logits, &weights);

  const at::Tensor normaliser = at::tensor({7.f, 5.f, 4.f, 3.f, 2.f, 1.f}).view({num_levels, 1, 2});
  const at::Tensor locations = offsets / normaliser + reference.view({1, queries, 1, 1, 1, 2});
  const at::Tensor want_weights =
      at::softmax(logits.view({batch, queries, heads, -1}), -1).view({batch, queries, heads, num_levels, points});
  EXPECT_LT(max_abs_difference(weights, want_weights), 1e-6);
  EXPECT_LT(max_abs_difference(got, kernels::deformable_sampling(value, levels, locations, want_weights)), 1e-5);
  at::Tensor aten_weights;
  {
    kernels::ForceAtenPath aten;
    EXPECT_LT(max_abs_difference(got, kernels::deformable_attention_sampling(value, levels, offsets, reference,
                                                                             logits, &aten_weights)),
              1e-5);
  }
  EXPECT_LT(max_abs_difference(weights, aten_weights), 1e-6);
  // Without a place for the weights, the same samples.
  EXPECT_EQ(max_abs_difference(got, kernels::deformable_attention_sampling(value, levels, offsets, reference, logits)),
            0.0);
}

TEST(DeformableAttentionSampling, RejectsInconsistentShapes) {
  const std::vector<LevelShape> levels{{2, 2}, {1, 3}};
  const at::Tensor value = at::randn({1, 7, 2, 4}), offsets = at::randn({1, 5, 2, 2, 3, 2});
  const at::Tensor reference = at::rand({5, 2}), logits = at::randn({1, 5, 2, 2, 3});
  const std::string wrong_reference = test::error_of(
      [&] { kernels::deformable_attention_sampling(value, levels, offsets, reference.slice(0, 0, 4), logits); });
  EXPECT_NE(wrong_reference.find("reference points [4, 2] do not fit 5 queries"), std::string::npos)
      << wrong_reference;
  const std::string wrong_logits = test::error_of(
      [&] { kernels::deformable_attention_sampling(value, levels, offsets, reference, logits.slice(4, 0, 2)); });
  EXPECT_NE(wrong_logits.find("attention logits"), std::string::npos) << wrong_logits;
  const std::string wrong_offsets = test::error_of(
      [&] { kernels::deformable_attention_sampling(value, levels, offsets.slice(3, 0, 1), reference, logits); });
  EXPECT_NE(wrong_offsets.find("sampling offsets"), std::string::npos) << wrong_offsets;
}
