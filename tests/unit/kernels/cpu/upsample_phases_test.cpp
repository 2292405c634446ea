// kernels/cpu/upsample_phases: four phases' outputs interleaved and a term added must equal the
// strided sums ATen computes (the ATen path is the same function with the kernel forced off),
// for float32 and bfloat16 phases and terms, a term shared by the batch or one per image, and odd sizes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/aten_path.h"
#include "kernels/cpu/upsample_phases.h"
#include "segkit/error.h"

using namespace segkit;

namespace {

// out[2i + a, 2j + b] = phases[(a, b)][i + a, j + b] + term[2i + a, 2j + b], written out.
at::Tensor reference(const at::Tensor& phases, const at::Tensor& term) {
  const int64_t batch = phases.size(0), c = phases.size(1) / 4, h = phases.size(2) - 1, w = phases.size(3) - 1;
  const at::Tensor y = phases.to(at::kFloat), t = term.to(at::kFloat).expand({batch, c, 2 * h, 2 * w});
  at::Tensor out = at::empty({batch, c, 2 * h, 2 * w});
  auto o = out.accessor<float, 4>();
  auto ya = y.accessor<float, 4>();
  auto ta = t.accessor<float, 4>();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t r = 0; r < 2 * h; ++r)
        for (int64_t s = 0; s < 2 * w; ++s) {
          const int64_t a = r % 2, b = s % 2;
          o[n][k][r][s] = ya[n][(2 * a + b) * c + k][r / 2 + a][s / 2 + b] + ta[n][k][r][s];
        }
  return out;
}

}  // namespace

TEST(UpsamplePhases, EqualsTheWrittenOutSumInEveryLayoutAndType) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16})
    for (const at::ScalarType term_dtype : {at::kFloat, at::kBFloat16})
      for (const int64_t term_batch : {1, 2}) {
        SCOPED_TRACE(std::string(c10::toString(dtype)) + " phases, " + c10::toString(term_dtype) +
                     " term, term batch " + std::to_string(term_batch));
        const at::Tensor phases = at::randn({2, 4 * 20, 6, 8}).to(dtype);  // a 5 × 7 coarse map, 20 channels
        const at::Tensor term = at::randn({term_batch, 20, 10, 14}).to(term_dtype);
        const at::Tensor want = reference(phases, term);
        for (const bool channels_last : {true, false}) {
          const at::Tensor p = channels_last ? phases.contiguous(cl) : phases;
          const at::Tensor t = channels_last ? term.contiguous(cl) : term;
          const at::Tensor got = kernels::add_upsampled_phases(p, t);
          EXPECT_TRUE(got.is_contiguous(cl));
          EXPECT_EQ(got.scalar_type(), at::kFloat);
          EXPECT_TRUE(at::equal(got, want));
          kernels::ForceAtenPath aten;
          EXPECT_TRUE(at::allclose(kernels::add_upsampled_phases(p, t), want));
        }
      }
}

TEST(UpsamplePhases, RefusesMismatchedShapes) {
  const at::Tensor phases = at::randn({1, 8, 4, 4});
  EXPECT_THROW(kernels::add_upsampled_phases(phases, at::randn({1, 2, 7, 6})), Error);   // not 2 × 3
  EXPECT_THROW(kernels::add_upsampled_phases(phases, at::randn({1, 3, 6, 6})), Error);   // channels
  EXPECT_THROW(kernels::add_upsampled_phases(phases, at::randn({2, 2, 6, 6})), Error);  // batch 2 for 1
  EXPECT_THROW(kernels::add_upsampled_phases(at::randn({1, 6, 4, 4}), at::randn({1, 2, 6, 6})), Error);  // not 4C
  EXPECT_THROW(kernels::add_upsampled_phases(phases, at::randn({1, 2, 6, 6}).to(at::kDouble)), Error);
}
