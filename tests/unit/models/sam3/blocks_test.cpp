// SAM 3's shared attention block: the fused path (query and key the same tensor, no mask) gives
// the unfused products' answer, at the real DETR's head size (32) on random weights.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/cpu/attention_fused.h"
#include "mask2former_fixtures.h"  // relative_l2
#include "models/sam3/blocks.h"

namespace segkit::test {
namespace {

TEST(Sam3Attention, FusedSelfAttentionMatchesTheProducts) {
  const int64_t tokens = 300, width = 64, heads = 2;  // head size 32, as the released DETR's 256 / 8
  if (!kernels::fused_attention_supported(at::kFloat, width / heads, at::kCPU)) GTEST_SKIP() << "no fused kernel on this CPU";
  at::manual_seed(3);
  nn::WeightMap w;
  for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    w.insert(std::string("a.") + p + ".weight", at::randn({width, width}) / 8);
    w.insert(std::string("a.") + p + ".bias", at::randn({width}) / 8);
  }
  const sam3::Attention a = sam3::Attention::load(w, "a", width, heads);
  const at::Tensor x = at::randn({2, tokens, width}), with_pos = x + at::randn({2, tokens, width});
  const at::Tensor fused = a(with_pos, with_pos, x);             // the same tensor: fused
  const at::Tensor products = a(with_pos, with_pos.clone(), x);  // two tensors: products and softmax
  EXPECT_LE(relative_l2(fused, products), 1e-5);
  EXPECT_GT(relative_l2(fused, a(x, x, x)), 1e-3);  // and the inputs matter

  // In bfloat16 (packed projections; the fused kernel's bfloat16 form where the CPU has it).
  sam3::Attention b16 = a;
  b16.use_bfloat16(2 * tokens);
  const at::Tensor half = b16(with_pos, with_pos, x);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_LE(relative_l2(half.to(at::kFloat), products), 3e-2);
}

}  // namespace
}  // namespace segkit::test
