// The image encoder's attention sublayer has two implementations: the fused kernel where the
// CPU has one, and the tiled path (windows partitioned around attention()) everywhere else.
// On a machine with the kernel the end-to-end goldens run only the first, so this pins the
// second against it, windows with padding and global attention alike.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>

#include <string>

#include "kernels/cpu/attention_fused.h"
#include "models/sam/image_encoder.h"

namespace {

segkit::sam::EncoderBlock random_block(int64_t C, int heads, int window, int64_t table_size) {
  segkit::sam::EncoderBlock b;
  b.heads = heads;
  b.window = window;
  b.qkv.weight = at::randn({3 * C, C}) * 0.2;
  b.qkv.bias = at::randn({3 * C}) * 0.2;
  b.proj.weight = at::randn({C, C}) * 0.2;
  b.proj.bias = at::randn({C});
  b.rel_pos_h = at::randn({2 * table_size - 1, C / heads}) * 0.3;
  b.rel_pos_w = at::randn({2 * table_size - 1, C / heads}) * 0.3;
  return b;
}

}  // namespace

TEST(EncoderAttention, TiledPathEqualsTheFusedKernel) {
  if (!segkit::kernels::fused_attention_supported(at::kFloat, 32, at::kCPU)) GTEST_SKIP() << "no fused kernel on this CPU";
  struct Case {
    int window;
    int64_t H, W, table;  // table: the size rel_pos was stored for (resized when it differs)
  };
  // Windows of 7 on a grid padded from 20×17; global attention on 12×12 with tables stored for
  // another size, as for inputs of another resolution.
  for (const Case c : {Case{7, 20, 17, 7}, Case{0, 12, 12, 9}}) {
    SCOPED_TRACE("window " + std::to_string(c.window));
    const segkit::sam::EncoderBlock block = random_block(64, 2, c.window, c.table);
    const at::Tensor x = at::randn({1, c.H, c.W, 64});
    ASSERT_TRUE(block.runs_fused_attention(at::kFloat, at::kCPU));
    const at::Tensor fused = block.fused_attention(x), tiled = block.tiled_attention(x);
    ASSERT_EQ(fused.sizes(), tiled.sizes());
    EXPECT_LT((fused - tiled).abs().max().item<double>(), 1e-4 * tiled.abs().max().item<double>());
  }
}
