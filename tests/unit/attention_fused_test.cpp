// The fused attention, float32 and bfloat16, against upstream's procedure (zero-padded tokens,
// window partition, decomposed relative positions) in double precision.
#include <ATen/TensorIndexing.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/einsum.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <ATen/Parallel.h>

#include "core/cpu_features.h"
#include "models/sam/attention_fused.h"

namespace {

struct Case {
  int64_t B, H, W, heads, d, window;
  bool rel, bias;
  double sharpen = 1;  // times upstream's scale: scores in the hundreds overflow exp(x) unless
                       // every row's true maximum is taken off first
};

// Padding tokens project to the bias; windows of kh×kw; per window and head
// softmax(scale·q·kᵀ + q·Rh[y_q]ᵀ[y_k] + q·Rw[x_q]ᵀ[x_k])·v; windows back in place, cropped.
at::Tensor reference(const at::Tensor& qkv, const at::Tensor& bias, const at::Tensor& Rh, const at::Tensor& Rw,
                     const Case& c, double scale) {
  const int64_t kh = c.window ? c.window : c.H, kw = c.window ? c.window : c.W;
  const int64_t wy = (c.H + kh - 1) / kh, wx = (c.W + kw - 1) / kw, C3 = 3 * c.heads * c.d, N = kh * kw;
  at::Tensor grid = bias.defined() ? bias.to(at::kDouble).expand({c.B, wy * kh, wx * kw, C3}).clone()
                                   : at::zeros({c.B, wy * kh, wx * kw, C3}, at::kDouble);
  using at::indexing::Slice;
  grid.index_put_({Slice(), Slice(0, c.H), Slice(0, c.W)}, qkv.to(at::kDouble));
  const at::Tensor w = grid.view({c.B, wy, kh, wx, kw, 3, c.heads, c.d}).permute({0, 1, 3, 6, 5, 2, 4, 7}).reshape({-1, 3, N, c.d});
  const at::Tensor q = w.select(1, 0), k = w.select(1, 1), v = w.select(1, 2);
  at::Tensor s = at::matmul(q, k.transpose(1, 2)) * scale;
  if (Rh.defined()) {
    const at::Tensor q4 = q.reshape({-1, kh, kw, c.d});
    const at::Tensor rel_h = at::einsum("ghwc,hkc->ghwk", {q4, Rh.to(at::kDouble)});
    const at::Tensor rel_w = at::einsum("ghwc,wkc->ghwk", {q4, Rw.to(at::kDouble)});
    s = (s.view({-1, kh, kw, kh, kw}) + rel_h.view({-1, kh, kw, kh, 1}) + rel_w.view({-1, kh, kw, 1, kw})).view({-1, N, N});
  }
  const at::Tensor o = at::matmul(at::softmax(s, -1), v);
  return o.view({c.B, wy, wx, c.heads, kh, kw, c.d})
      .permute({0, 1, 4, 2, 5, 3, 6})
      .reshape({c.B, wy * kh, wx * kw, c.heads * c.d})
      .slice(1, 0, c.H)
      .slice(2, 0, c.W);
}

}  // namespace

// Error bounds for each type. float32 differs from double by rounding alone; bfloat16 rounds
// the probabilities to 8 significant bits before their product with v, and the output again.
struct Bounds {
  at::ScalarType type;
  double max_error, mean_error;
};

class AttentionFused : public ::testing::TestWithParam<Bounds> {};

TEST_P(AttentionFused, EqualsUpstreamAttentionInDouble) {
  const Bounds bounds = GetParam();
  if (!segkit::sam::fused_attention_supported(bounds.type, 64)) GTEST_SKIP() << "no kernel for this type on this CPU";
  // Global attention over several key blocks; the same with rows of 64 keys, whose
  // probabilities come from probability tiles, also with sharp scores (rows' running maxima
  // rise mid-block); windows of 14 on a grid padded from 30 to 42 (qkv a view with wider
  // rows); a grid of 19×19 (key blocks of an odd number of keys) with a head size of a panel
  // and a quarter, no terms and no bias; a flat grid padded both ways; a single padded window
  // (too few groups to share out whole).
  const Case cases[] = {{1, 32, 32, 2, 64, 0, true, true},
                        {1, 11, 64, 2, 32, 0, true, true},
                        {1, 11, 64, 2, 32, 0, true, true, 50},
                        {2, 30, 30, 2, 32, 14, true, true},
                        {1, 19, 19, 1, 80, 0, false, false},
                        {1, 5, 40, 2, 16, 7, true, true},
                        {1, 10, 12, 2, 32, 14, true, true}};
  // One thread and several: windows are attended whole by one thread only where there are
  // enough of them to share out, otherwise by query blocks. In bfloat16 on CPUs with AMX, with
  // AMX products and without.
  const int threads = at::get_num_threads();
  const bool amx = bounds.type == at::kBFloat16 && segkit::core::cpu_has_amx_bf16();
  for (const bool use_amx : {false, true})
  for (const int run_threads : {1, std::max(threads, 2)})
  for (const Case& c : cases) {
    if (use_amx && !amx) continue;
    segkit::core::allow_amx(use_amx);
    at::set_num_threads(run_threads);
    SCOPED_TRACE(std::to_string(c.H) + "x" + std::to_string(c.W) + " window " + std::to_string(c.window) + " d " +
                 std::to_string(c.d) + " sharpen " + std::to_string(c.sharpen) + " threads " +
                 std::to_string(run_threads) + (use_amx ? " AMX" : ""));
    const int64_t kh = c.window ? c.window : c.H, kw = c.window ? c.window : c.W, C3 = 3 * c.heads * c.d;
    const double scale = c.sharpen / std::sqrt(static_cast<double>(c.d));
    const at::Tensor qkv = at::randn({c.B, c.H, c.W, C3 + 16}).to(bounds.type).slice(3, 0, C3);
    const at::Tensor bias = c.bias ? at::randn({C3}).to(bounds.type) : at::Tensor();
    at::Tensor Rh, Rw;  // upstream's get_rel_pos tables: query row × key row × head dimension
    if (c.rel) {
      Rh = at::randn({kh, kh, c.d}).mul(0.5).to(bounds.type);
      Rw = at::randn({kw, kw, c.d}).mul(0.5).to(bounds.type);
    }
    at::Tensor out = at::empty({c.B, c.H, c.W, c.heads * c.d}, bounds.type);
    segkit::sam::fused_attention(qkv, bias, c.heads, c.window, Rh, Rw, scale, out);
    const at::Tensor want = reference(qkv, bias, Rh, Rw, c, scale);
    const at::Tensor error = (out.to(at::kDouble) - want).abs();
    // Rounding errors of the scores grow with their size.
    EXPECT_LT(error.max().item<double>(), bounds.max_error * c.sharpen);
    EXPECT_LT(error.mean().item<double>(), bounds.mean_error * c.sharpen);
    if (c.rel) {  // the terms matter at this size: leaving them out is far off
      const at::Tensor plain = reference(qkv, bias, at::Tensor(), at::Tensor(), c, scale);
      EXPECT_GT((plain - want).abs().max().item<double>(), 0.1);
    }
    if (c.window && c.bias) {  // so does what the padding tokens hold
      const at::Tensor zero_pad = reference(qkv, bias * 0, Rh, Rw, c, scale);
      EXPECT_GT((zero_pad - want).abs().max().item<double>(), 0.05);
    }
  }
  at::set_num_threads(threads);
  segkit::core::allow_amx(true);
}

INSTANTIATE_TEST_SUITE_P(Types, AttentionFused,
                         ::testing::Values(Bounds{at::kFloat, 2e-5, 1e-6}, Bounds{at::kBFloat16, 0.02, 2e-3}),
                         [](const ::testing::TestParamInfo<Bounds>& info) {
                           return info.param.type == at::kFloat ? std::string("Float") : std::string("BFloat16");
                         });

TEST(AttentionFusedChecks, RefusesWhatItCannotRun) {
  if (!segkit::sam::fused_attention_supported(at::kBFloat16, 64)) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  EXPECT_FALSE(segkit::sam::fused_attention_supported(at::kBFloat16, 24));  // not whole vectors of 16
  EXPECT_FALSE(segkit::sam::fused_attention_supported(at::kDouble, 64));
  const at::Tensor qkv = at::randn({1, 4, 4, 96}).to(at::kBFloat16);
  at::Tensor out = at::empty({1, 4, 4, 32}, at::kBFloat16);
  EXPECT_ANY_THROW(segkit::sam::fused_attention(qkv, {}, 4, 0, {}, {}, 1.0, out));  // heads of 8: out is not 4·8 wide
  EXPECT_ANY_THROW(segkit::sam::fused_attention(qkv.to(at::kFloat), {}, 1, 0, {}, {}, 1.0, out));  // types differ
  const at::Tensor odd = at::randn({1, 4, 4, 97}).to(at::kBFloat16).slice(3, 1, 97);  // rows at odd elements
  EXPECT_ANY_THROW(segkit::sam::fused_attention(qkv, {}, 1, 0, {}, {}, 1.0, odd.slice(3, 0, 32)));
  const at::Tensor wrong_table = at::randn({3, 3, 32}).to(at::kBFloat16);
  EXPECT_ANY_THROW(segkit::sam::fused_attention(qkv, {}, 1, 0, wrong_table, wrong_table, 1.0, out));
}
