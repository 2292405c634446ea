// kernels/cpu/masked_attention against ATen's softmax attention with −∞ at blocked keys: key
// counts across several blocks of 256 with a partial last one and a partial last vector, query
// counts with a partial last block of four, head widths 16 to 64, float32 and bfloat16 k and v
// (on every kernel path this CPU has: bfloat16 products of pairs with AVX-512 BF16), rows whose
// keys are blocked in whole blocks, and a row blocked everywhere (NaN, as ATen).
#include <ATen/TensorOperators.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/cpu_features.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/masked_attention.h"
#include "segkit/error.h"
#include "test_util.h"

using segkit::kernels::masked_attention;
using segkit::kernels::masked_attention_supports;

namespace {

at::Tensor by_heads(const at::Tensor& x, int64_t heads) {
  return x.to(at::kFloat).view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                     int64_t heads, double scale) {
  at::Tensor scores = at::matmul(by_heads(q, heads), by_heads(k, heads).transpose(-2, -1)).mul(scale);
  if (blocked.defined()) scores = scores.masked_fill(blocked.unsqueeze(1), -std::numeric_limits<float>::infinity());
  const at::Tensor out = at::matmul(at::softmax(scores, -1), by_heads(v, heads));
  return out.transpose(1, 2).reshape(q.sizes());
}

double relative_l2(const at::Tensor& got, const at::Tensor& want) {
  return ((got - want).norm() / want.norm()).item<double>();
}

}  // namespace

TEST(MaskedAttention, EqualsSoftmaxAttentionWithBlockedKeysLeftOut) {
  struct Case {
    int64_t batch, queries, keys, heads, head_dim;
  };
  using segkit::core::CpuKernels;
  for (const CpuKernels path : {CpuKernels::avx512, CpuKernels::avx512_bf16}) {
    if (path > segkit::core::cpu_kernels_available()) continue;
    const segkit::test::KernelCeiling ceiling(path);
    for (const Case c : {Case{1, 9, 600, 2, 32}, Case{2, 4, 37, 3, 64}, Case{1, 6, 300, 1, 16}, Case{1, 5, 20, 2, 48}})
      for (const auto type : {at::kFloat, at::kBFloat16})
        for (const bool masked : {false, true}) {
          const bool pairs = type == at::kBFloat16 && path == CpuKernels::avx512_bf16;
          SCOPED_TRACE(std::to_string(c.keys) + " keys, dh " + std::to_string(c.head_dim) +
                       (type == at::kFloat ? ", float32" : ", bfloat16") + (masked ? ", masked" : "") +
                       (pairs ? ", products of bfloat16 pairs" : ""));
          const int64_t C = c.heads * c.head_dim;
          const at::Tensor q = at::randn({c.batch, c.queries, C});
          // Products of several units, so that the running maximum moves between blocks.
          const at::Tensor k = (at::randn({c.batch, c.keys, C}) * 3).to(type);
          const at::Tensor v = at::randn({c.batch, c.keys, C}).to(type);
          if (!masked_attention_supports(q, k, v, c.heads)) GTEST_SKIP() << "no AVX-512 on this CPU";
          at::Tensor blocked;
          if (masked) {
            blocked = at::rand({c.batch, c.queries, c.keys}) < 0.5;
            // Query 0: open only in the last key (every earlier block blocked whole).
            blocked[0][0].fill_(true);
            blocked[0][0][c.keys - 1] = false;
            // Query 1: open only in the first key (every later block blocked whole).
            blocked[0][1].fill_(true);
            blocked[0][1][0] = false;
          }
          const double scale = 1.0 / std::sqrt(double(c.head_dim));
          const at::Tensor got = masked_attention(q, k, v, blocked, c.heads, scale);
          ASSERT_EQ(got.sizes(), q.sizes());
          if (!pairs) {
            EXPECT_LT(relative_l2(got, reference(q, k, v, blocked, c.heads, scale)), 1e-5);
            continue;
          }
          // The queries are rounded to bfloat16 for the products, and so are the probabilities
          // (a relative error of at most 2^-9 each, which the sums average).
          const double error = relative_l2(got, reference(q.to(at::kBFloat16), k, v, blocked, c.heads, scale));
          EXPECT_GT(error, 0.0);
          EXPECT_LT(error, 3e-3);
        }
  }
}

TEST(MaskedAttention, RowBlockedEverywhereIsNaN) {
  const at::Tensor q = at::randn({1, 3, 32}), k = at::randn({1, 40, 32}), v = at::randn({1, 40, 32});
  if (!masked_attention_supports(q, k, v, 2)) GTEST_SKIP() << "no AVX-512 on this CPU";
  at::Tensor blocked = at::rand({1, 3, 40}) < 0.5;
  blocked[0][2].fill_(true);
  const at::Tensor got = masked_attention(q, k, v, blocked, 2, 0.25);
  EXPECT_TRUE(at::isnan(got[0][2]).all().item<bool>());
  EXPECT_FALSE(at::isnan(got.narrow(1, 0, 2)).any().item<bool>());
}

TEST(MaskedAttention, RefusesWhatItCannotRun) {
  const at::Tensor q = at::randn({1, 4, 64}), k = at::randn({1, 10, 64});
  EXPECT_FALSE(masked_attention_supports(q, k, k, 3));                           // 64 not split in 3 heads
  EXPECT_FALSE(masked_attention_supports(q, k, k, 8));                           // heads of 8
  EXPECT_FALSE(masked_attention_supports(q, k, k.to(at::kBFloat16), 2));         // k and v of two types
  EXPECT_FALSE(masked_attention_supports(q.to(at::kBFloat16), k, k, 2));         // q not float32
  EXPECT_FALSE(masked_attention_supports(q, at::randn({1, 10, 128}).slice(2, 0, 64), k, 2));  // not contiguous
  if (!masked_attention_supports(q, k, k, 2)) GTEST_SKIP() << "no AVX-512 on this CPU";
  const std::string error = segkit::test::error_of([&] { masked_attention(q, k, k, at::rand({1, 4, 9}) < 0.5, 2, 0.1); });
  EXPECT_NE(error.find("blocked"), std::string::npos) << error;
  segkit::kernels::ForceAtenPath aten;
  EXPECT_FALSE(masked_attention_supports(q, k, k, 2));
}
