// kernels/cpu/window_attention against the same attention from ATen's operators: window sizes
// with and without whole vectors of keys, query blocks with a partial last block, every head
// width it takes, with and without the shifted-window mask, float32 and bfloat16 (on every
// kernel path this CPU has: bfloat16 products of pairs with AVX-512 BF16).
#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <gtest/gtest.h>

#include <string>

#include "core/cpu_features.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/window_attention.h"
#include "segkit/error.h"
#include "test_util.h"

using segkit::kernels::window_attention;
using segkit::kernels::window_attention_supports;

namespace {

// softmax((scale·q·k + bias) + mask)·v per window and head, in float32, heads side by side.
at::Tensor reference(const at::Tensor& qkv, double scale, const at::Tensor& bias, const at::Tensor& mask) {
  const at::Tensor split = qkv.to(at::kFloat).permute({2, 0, 3, 1, 4});  // 3 × W × heads × T × dh
  at::Tensor scores = at::matmul(split[0], split[1].transpose(-2, -1)).mul(scale) + bias;
  if (mask.defined()) scores = scores + mask.unsqueeze(1);
  const at::Tensor out = at::matmul(at::softmax(scores, -1), split[2]);
  return out.transpose(1, 2).reshape({qkv.size(0), qkv.size(1), -1});
}

double relative_l2(const at::Tensor& got, const at::Tensor& want) {
  return ((got.to(at::kFloat) - want).norm() / want.norm()).item<double>();
}

}  // namespace

TEST(WindowAttention, EqualsSoftmaxOfBiasedScoresTimesValues) {
  struct Case {
    int64_t windows, tokens, heads, head_dim;
  };
  using segkit::core::CpuKernels;
  for (const CpuKernels path : {CpuKernels::avx512, CpuKernels::avx512_bf16}) {
    if (path > segkit::core::cpu_kernels_available()) continue;
    const segkit::test::KernelCeiling ceiling(path);
    // 7×7 windows (Swin), 12×12 (Swin-L at 384 px: more than 4 vectors of keys), 5 tokens (less
    // than one vector), head widths 16 to 64; odd token counts leave a key without a partner
    // in the bfloat16 pairs.
    for (const Case c : {Case{6, 49, 3, 32}, Case{2, 144, 2, 64}, Case{3, 5, 4, 16}, Case{2, 33, 1, 48}})
      for (const auto type : {at::kFloat, at::kBFloat16})
        for (const bool masked : {false, true}) {
          SCOPED_TRACE(std::to_string(c.tokens) + " tokens, dh " + std::to_string(c.head_dim) +
                       (type == at::kFloat ? ", float32" : ", bfloat16") + (masked ? ", masked" : "") +
                       ", kernel path " + std::to_string(int(path)));
          const at::Tensor qkv = at::randn({c.windows, c.tokens, 3, c.heads, c.head_dim}).to(type);
          if (!window_attention_supports(qkv)) GTEST_SKIP() << "no AVX-512 on this CPU";
          const at::Tensor bias = at::randn({c.heads, c.tokens, c.tokens});
          // Swin's mask: 0 or −100 (keys from another region of the shifted map).
          const at::Tensor mask = masked ? (at::randn({c.windows, c.tokens, c.tokens}) > 0.5).to(at::kFloat) * -100.0
                                         : at::Tensor();
          const double scale = 1.0 / std::sqrt(double(c.head_dim));
          const at::Tensor got = window_attention(qkv, scale, bias, mask);
          ASSERT_EQ(got.scalar_type(), type);
          ASSERT_EQ(got.sizes(), at::IntArrayRef({c.windows, c.tokens, c.heads * c.head_dim}));
          // float32: the order of the sums; bfloat16: the output's rounding (inputs are exact)
          // and, with AVX-512 BF16, the probabilities' (each a relative error under 2^-9).
          EXPECT_LT(relative_l2(got, reference(qkv, scale, bias, mask)), type == at::kFloat ? 1e-6 : 4e-3);
        }
  }
}

TEST(WindowAttention, RefusesWhatItCannotRun) {
  EXPECT_FALSE(window_attention_supports(at::randn({2, 49, 3, 3, 24})));        // dh not a multiple of 16
  EXPECT_FALSE(window_attention_supports(at::randn({2, 49, 3, 3, 128})));       // dh over 64
  EXPECT_FALSE(window_attention_supports(at::randn({2, 300, 3, 1, 32})));       // too many tokens
  EXPECT_FALSE(window_attention_supports(at::randn({2, 49, 3, 3, 32}).to(at::kDouble)));
  EXPECT_FALSE(window_attention_supports(at::randn({2, 49, 3, 3, 64}).slice(4, 0, 32)));  // not contiguous
  const at::Tensor qkv = at::randn({2, 49, 3, 3, 32});
  if (!window_attention_supports(qkv)) GTEST_SKIP() << "no AVX-512 on this CPU";
  const std::string error = segkit::test::error_of([&] { window_attention(qkv, 0.1, at::randn({3, 49, 48}), {}); });
  EXPECT_NE(error.find("bias"), std::string::npos) << error;
  EXPECT_THROW(window_attention(qkv, 0.1, at::randn({3, 49, 49}), at::randn({1, 49, 49})), segkit::Error);
  segkit::kernels::ForceAtenPath aten;
  EXPECT_FALSE(window_attention_supports(qkv));
}
