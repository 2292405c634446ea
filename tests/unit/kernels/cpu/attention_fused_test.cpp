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
#include <vector>

#include "core/cpu_features.h"
#include "kernels/cpu/attention_fused.h"
#include "segkit/error.h"
#include "segkit/threads.h"

namespace {

struct Case {
  int64_t B, H, W, heads, d, window;
  bool rel, bias;
  double sharpen = 1;  // times upstream's scale: scores in the hundreds overflow exp(x) unless
                       // every row's true maximum is taken off first
};

// Upstream's procedure in double, windowed: padding tokens project to the bias; windows of
// kh×kw; per window and head the scores scale·q·kᵀ + q·Rh[y_q]ᵀ[y_k] + q·Rw[x_q]ᵀ[x_k] (G×N×N)
// and the values v (G×N×d).
struct Windowed {
  at::Tensor scores, v;
};

Windowed windowed_scores(const at::Tensor& qkv, const at::Tensor& bias, const at::Tensor& Rh, const at::Tensor& Rw,
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
  return {s, v};
}

// Per-window rows (G×N×d) back in place, cropped to the image.
at::Tensor unwindow(const at::Tensor& rows, const Case& c) {
  const int64_t kh = c.window ? c.window : c.H, kw = c.window ? c.window : c.W;
  const int64_t wy = (c.H + kh - 1) / kh, wx = (c.W + kw - 1) / kw;
  return rows.view({c.B, wy, wx, c.heads, kh, kw, c.d})
      .permute({0, 1, 4, 2, 5, 3, 6})
      .reshape({c.B, wy * kh, wx * kw, c.heads * c.d})
      .slice(1, 0, c.H)
      .slice(2, 0, c.W);
}

at::Tensor reference(const at::Tensor& qkv, const at::Tensor& bias, const at::Tensor& Rh, const at::Tensor& Rw,
                     const Case& c, double scale) {
  const Windowed w = windowed_scores(qkv, bias, Rh, Rw, c, scale);
  return unwindow(at::matmul(at::softmax(w.scores, -1), w.v), c);
}

// What the kernel's arithmetic may change in each output element, from the roundings it does
// (the same on every path: AVX-512, AVX-512 BF16, AMX), not from what a host happened to show:
//  - each score is a float32 sum of d exact products plus two terms, scaled: relative error
//    γ = (d + 4)·2⁻²⁴ of the sum of the magnitudes M (the same sums over |q|, |k|, |R|);
//  - each probability p = 2^(s − max) is off by that score error, the exponential's own error
//    and, in bfloat16, its rounding to 8 significant bits (unit roundoff u): together η;
//  - perturbing each p by a relative η moves the normalised output by at most
//    2η/(1 − η)·Σ P|v| (A below);
//  - summing N products in float32 adds (N + 2)·2⁻²⁴·A, rounding the output u·|o| ≤ u·A.
// The running maximum's rescaling multiplies the sum and the output by the same factor, so its
// error cancels. The bound is an upper bound, within a factor of about 2 of what a bad row shows.
struct TypeArithmetic {
  at::ScalarType type;
  double unit_roundoff;  // of the stored probabilities and outputs
  double exp_error;      // of the kernel's 2^x (kernels/cpu/avx512_exp.h; the coarse one for bfloat16)
};

at::Tensor error_bound(const at::Tensor& qkv, const at::Tensor& bias, const at::Tensor& Rh, const at::Tensor& Rw,
                       const Case& c, double scale, const TypeArithmetic& t) {
  auto abs_or_none = [](const at::Tensor& x) { return x.defined() ? x.abs() : x; };
  const Windowed w = windowed_scores(qkv, bias, Rh, Rw, c, scale);
  const Windowed m = windowed_scores(qkv.abs(), abs_or_none(bias), abs_or_none(Rh), abs_or_none(Rw), c, scale);
  const double eps32 = std::ldexp(1.0, -24);
  const int64_t N = w.scores.size(-1);
  const at::Tensor score_error = std::get<0>(m.scores.max(-1, true)) * (double(c.d + 4) * eps32);  // G×N×1
  const at::Tensor eta = score_error + (t.exp_error + t.unit_roundoff);
  const at::Tensor A = at::matmul(at::softmax(w.scores, -1), w.v.abs());
  const at::Tensor factor = eta * 2 / (1 - eta) + (t.unit_roundoff + double(N + 2) * eps32);
  return unwindow(A * factor, c) + 1e-30;
}

}  // namespace

class AttentionFused : public ::testing::TestWithParam<TypeArithmetic> {};

// Runs each kernel path this CPU has, one after another: for bfloat16 the AVX-512 BF16 products
// and, where the CPU has AMX, the tile products.
TEST_P(AttentionFused, EqualsUpstreamAttentionInDouble) {
  const TypeArithmetic arithmetic = GetParam();
  using segkit::core::CpuKernels;
  const CpuKernels least = arithmetic.type == at::kFloat ? CpuKernels::avx512 : CpuKernels::avx512_bf16;
  const CpuKernels best = segkit::core::cpu_kernels_available();
  if (int(best) < int(least)) GTEST_SKIP() << "no kernel for this type on this CPU";
  std::vector<CpuKernels> paths = {least};
  if (arithmetic.type == at::kBFloat16 && best == CpuKernels::amx_bf16) paths.push_back(CpuKernels::amx_bf16);
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
  // enough of them to share out, otherwise by query blocks.
  const int threads = segkit::num_threads();
  for (const CpuKernels path : paths)
  for (const int run_threads : {1, std::max(threads, 2)})
  for (const Case& c : cases) {
    segkit::core::limit_cpu_kernels(path);
    segkit::set_num_threads(run_threads);
    SCOPED_TRACE(std::to_string(c.H) + "x" + std::to_string(c.W) + " window " + std::to_string(c.window) + " d " +
                 std::to_string(c.d) + " sharpen " + std::to_string(c.sharpen) + " threads " +
                 std::to_string(run_threads) + (path == CpuKernels::amx_bf16 ? " AMX" : ""));
    const int64_t kh = c.window ? c.window : c.H, kw = c.window ? c.window : c.W, C3 = 3 * c.heads * c.d;
    const double scale = c.sharpen / std::sqrt(static_cast<double>(c.d));
    const at::Tensor qkv = at::randn({c.B, c.H, c.W, C3 + 16}).to(arithmetic.type).slice(3, 0, C3);
    const at::Tensor bias = c.bias ? at::randn({C3}).to(arithmetic.type) : at::Tensor();
    at::Tensor Rh, Rw;  // upstream's get_rel_pos tables: query row × key row × head dimension
    if (c.rel) {
      Rh = at::randn({kh, kh, c.d}).mul(0.5).to(arithmetic.type);
      Rw = at::randn({kw, kw, c.d}).mul(0.5).to(arithmetic.type);
    }
    at::Tensor out = at::empty({c.B, c.H, c.W, c.heads * c.d}, arithmetic.type);
    segkit::kernels::fused_attention(qkv, bias, c.heads, c.window, Rh, Rw, scale, out);
    const at::Tensor want = reference(qkv, bias, Rh, Rw, c, scale);
    const at::Tensor bound = error_bound(qkv, bias, Rh, Rw, c, scale, arithmetic);
    const at::Tensor ratio = (out.to(at::kDouble) - want).abs() / bound;
    EXPECT_LE(ratio.max().item<double>(), 1.0) << "largest error over its bound";
    // The bound is not so loose that a wrong kernel passes: leaving out the terms, or what the
    // padding tokens hold, exceeds it.
    if (c.rel) {
      const at::Tensor plain = reference(qkv, bias, at::Tensor(), at::Tensor(), c, scale);
      EXPECT_GT(((plain - want).abs() / bound).max().item<double>(), 2.0);
    }
    if (c.window && c.bias) {
      const at::Tensor zero_pad = reference(qkv, bias * 0, Rh, Rw, c, scale);
      EXPECT_GT(((zero_pad - want).abs() / bound).max().item<double>(), 2.0);
    }
  }
  segkit::set_num_threads(threads);
  segkit::core::limit_cpu_kernels(CpuKernels::amx_bf16);
}

INSTANTIATE_TEST_SUITE_P(Types, AttentionFused,
                         ::testing::Values(TypeArithmetic{at::kFloat, std::ldexp(1.0, -24), 2e-7},
                                           TypeArithmetic{at::kBFloat16, std::ldexp(1.0, -8), 1e-4}),
                         [](const ::testing::TestParamInfo<TypeArithmetic>& info) {
                           return info.param.type == at::kFloat ? std::string("Float") : std::string("BFloat16");
                         });

TEST(AttentionFusedChecks, NoKernelBelowItsCpuFamily) {
  using segkit::core::CpuKernels;
  segkit::core::limit_cpu_kernels(CpuKernels::portable);
  EXPECT_FALSE(segkit::kernels::fused_attention_supported(at::kFloat, 64, at::kCPU));
  EXPECT_FALSE(segkit::kernels::fused_attention_supported(at::kBFloat16, 64, at::kCPU));
  segkit::core::limit_cpu_kernels(CpuKernels::avx512);
  EXPECT_FALSE(segkit::kernels::fused_attention_supported(at::kBFloat16, 64, at::kCPU));
  EXPECT_FALSE(segkit::core::cpu_has_amx_bf16());
  segkit::core::limit_cpu_kernels(CpuKernels::amx_bf16);
  EXPECT_EQ(segkit::kernels::fused_attention_supported(at::kFloat, 64, at::kCPU), segkit::core::cpu_has_avx512());
}

TEST(AttentionFusedChecks, RefusesWhatItCannotRun) {
  if (!segkit::kernels::fused_attention_supported(at::kBFloat16, 64, at::kCPU)) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  EXPECT_FALSE(segkit::kernels::fused_attention_supported(at::kBFloat16, 24, at::kCPU));  // not whole vectors of 16
  EXPECT_FALSE(segkit::kernels::fused_attention_supported(at::kDouble, 64, at::kCPU));
  const at::Tensor qkv = at::randn({1, 4, 4, 96}).to(at::kBFloat16);
  at::Tensor out = at::empty({1, 4, 4, 32}, at::kBFloat16);
  EXPECT_ANY_THROW(segkit::kernels::fused_attention(qkv, {}, 4, 0, {}, {}, 1.0, out));  // heads of 8: out is not 4·8 wide
  EXPECT_ANY_THROW(segkit::kernels::fused_attention(qkv.to(at::kFloat), {}, 1, 0, {}, {}, 1.0, out));  // types differ
  const at::Tensor odd = at::randn({1, 4, 4, 97}).to(at::kBFloat16).slice(3, 1, 97);  // rows at odd elements
  EXPECT_ANY_THROW(segkit::kernels::fused_attention(qkv, {}, 1, 0, {}, {}, 1.0, odd.slice(3, 0, 32)));
  const at::Tensor wrong_table = at::randn({3, 3, 32}).to(at::kBFloat16);
  EXPECT_ANY_THROW(segkit::kernels::fused_attention(qkv, {}, 1, 0, wrong_table, wrong_table, 1.0, out));
}

// The kernel reads raw CPU pointers: tensors of another device ("meta" stands in for a GPU)
// are refused before anything else, on every CPU.
TEST(AttentionFusedChecks, RefusesTensorsOfAnotherDevice) {
  const auto meta = at::TensorOptions().device(at::kMeta);
  const at::Tensor qkv = at::empty({1, 4, 4, 96}, meta), out = at::empty({1, 4, 4, 32}, meta);
  try {
    segkit::kernels::fused_attention(qkv, {}, 1, 0, {}, {}, 1.0, out);
    ADD_FAILURE() << "no error";
  } catch (const segkit::Error& e) {
    EXPECT_STREQ(e.what(), "fused_attention: a tensor on device meta; this kernel runs on the CPU only");
  }
}
