// kernels/aten_path: forcing the ATen path (what a GPU runs) sends every kernel entry point to
// ATen's operators, which give the hand-written kernels' results; no hand-written kernel runs
// while it is forced.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>

#include <optional>
#include <string>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_fused.h"
#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/cpu_tensor.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/packed_linear.h"
#include "kernels/cpu/resize_argmax.h"
#include "test_util.h"

using namespace segkit;

namespace {

double max_abs_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

// `op` on a copy of `x`, with the ATen path forced or not.
template <class Op>
at::Tensor in_place(const at::Tensor& x, bool aten, Op op) {
  at::Tensor y = x.clone();
  if (aten) {
    kernels::ForceAtenPath force;
    op(y);
  } else {
    op(y);
  }
  return y;
}

}  // namespace

TEST(AtenPath, ForcingNestsAndRestores) {
  ASSERT_FALSE(kernels::aten_path_forced()) << "SEGKIT_KERNELS=aten is set for this test run";
  EXPECT_TRUE(kernels::hand_written_path(at::Device(at::kCPU)));
  EXPECT_FALSE(kernels::hand_written_path(at::Device(at::kCUDA, 0)));
  {
    kernels::ForceAtenPath outer;
    {
      kernels::ForceAtenPath inner;
      EXPECT_TRUE(kernels::aten_path_forced());
    }
    EXPECT_TRUE(kernels::aten_path_forced());
    const at::Tensor x = at::randn({3});
    EXPECT_FALSE(kernels::hand_written_path({&x}));
    EXPECT_FALSE(kernels::fused_attention_supported(at::kFloat, 64, at::kCPU));
    EXPECT_FALSE(kernels::resize_argmax_available(at::kCPU));
    EXPECT_EQ(kernels::PackedLinear::pack(at::randn({32, 32}).to(at::kBFloat16), {}, 16), nullptr);
    const std::string refused = test::error_of([&] { kernels::require_cpu("some_kernel", {&x}); });
    EXPECT_NE(refused.find("some_kernel: a hand-written CPU kernel reached while the ATen path is forced"),
              std::string::npos)
        << refused;
  }
  EXPECT_FALSE(kernels::aten_path_forced());
  EXPECT_FALSE(kernels::fused_attention_supported(at::kFloat, 64, at::Device(at::kCUDA, 0)));
}

TEST(AtenPath, SoftmaxesMatchTheHandWrittenOnes) {
  const int64_t G = 3, T = 5, kh = 4, kw = 6;
  const at::Tensor scores = at::randn({G, T, kh * kw}) * 4;
  const at::Tensor rel_h = at::randn({G, T, kh}), rel_w = at::randn({G, T, kw});
  auto rel = [&](at::Tensor& s) { kernels::add_rel_pos_softmax_(s, rel_h.to(s.scalar_type()), rel_w.to(s.scalar_type())); };
  EXPECT_LT(max_abs_difference(in_place(scores, false, rel), in_place(scores, true, rel)), 1e-6);
  const at::Tensor bf16 = scores.to(at::kBFloat16);
  EXPECT_LT(max_abs_difference(in_place(bf16, false, rel), in_place(bf16, true, rel)), 4e-3);  // one bf16 rounding
  auto last = [](at::Tensor& s) { kernels::softmax_last_dim_(s); };
  EXPECT_LT(max_abs_difference(in_place(scores, false, last), in_place(scores, true, last)), 1e-6);
  auto rows = [](at::Tensor& s) { kernels::softmax_across_rows_(s); };
  EXPECT_LT(max_abs_difference(in_place(scores, false, rows), in_place(scores, true, rows)), 1e-6);
  // and each is a softmax: rows (or columns) sum to 1
  EXPECT_LT((in_place(scores, true, rows).sum(-2) - 1).abs().max().item<double>(), 1e-5);
}

TEST(AtenPath, NormsProductsAndGeluMatchTheHandWrittenOnes) {
  const at::Tensor x = at::randn({7, 48}), w = at::randn({48}), b = at::randn({48});
  const at::Tensor weight = at::randn({32, 48}), bias = at::randn({32});
  auto run = [&](bool aten) {
    std::optional<kernels::ForceAtenPath> force;
    if (aten) force.emplace();
    at::Tensor y = kernels::linear(x, weight, bias);
    kernels::add_bias_gelu_(y, bias);
    return std::vector<at::Tensor>{kernels::layer_norm(x, w, b, 1e-6, at::kFloat),
                                   kernels::layer_norm(x, w, b, 1e-6, at::kBFloat16), y,
                                   kernels::matmul(x, x.t(), 0.5), kernels::linear_gelu(x, weight, bias)};
  };
  const auto hand = run(false), aten = run(true);
  const double tolerance[] = {1e-5, 1e-2, 1e-4, 1e-4, 1e-4};
  for (size_t i = 0; i < hand.size(); ++i) {
    EXPECT_EQ(hand[i].scalar_type(), aten[i].scalar_type()) << i;
    EXPECT_LT(max_abs_difference(hand[i], aten[i]), tolerance[i]) << i;
  }
}

TEST(AtenPath, AttentionWithAnAdditiveBias) {
  // In double, against the definition; the bias broadcast over heads as SAM's and Swin's are.
  const at::Tensor q = at::randn({2, 3, 7, 8}, at::kDouble), k = at::randn({2, 3, 5, 8}, at::kDouble),
                   v = at::randn({2, 3, 5, 8}, at::kDouble), bias = at::randn({2, 1, 7, 5}, at::kDouble);
  const double scale = 0.3;
  const at::Tensor want = at::matmul(at::softmax(at::matmul(q, k.transpose(-2, -1)) * scale + bias, -1), v);
  EXPECT_LT(max_abs_difference(kernels::aten_attention(q, k, v, bias, scale), want), 1e-5);
  const at::Tensor plain = at::matmul(at::softmax(at::matmul(q, k.transpose(-2, -1)) * scale, -1), v);
  EXPECT_LT(max_abs_difference(kernels::aten_attention(q, k, v, at::Tensor(), scale), plain), 1e-5);
  // bfloat16 in, bfloat16 out, close to float32
  const auto bf = [](const at::Tensor& t) { return t.to(at::kBFloat16); };
  const at::Tensor narrow = kernels::aten_attention(bf(q), bf(k), bf(v), bf(bias), scale);
  EXPECT_EQ(narrow.scalar_type(), at::kBFloat16);
  EXPECT_LT(max_abs_difference(narrow, want), 0.05);
}
