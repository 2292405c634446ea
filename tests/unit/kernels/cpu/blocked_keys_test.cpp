// kernels/cpu/blocked_keys: the attention mask from mask logits, against ATen's sigmoid < 0.5
// with rows blocked everywhere opened, including logits so near 0 that the sigmoid is 0.5.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/cpu/blocked_keys.h"
#include "segkit/error.h"

using namespace segkit;

namespace {

at::Tensor reference(const at::Tensor& logits) {
  const at::Tensor blocked = at::sigmoid(logits).flatten(2).lt(0.5);
  return blocked.logical_and(blocked.all(-1, true).logical_not());
}

}  // namespace

TEST(BlockedKeys, MatchesATensDecision) {
  at::Tensor logits = at::randn({2, 5, 6, 7});
  // Near zero: these round to sigmoid 0.5 (open) or just below it (blocked).
  logits[0][0][0][0] = -1e-8f;
  logits[0][0][0][1] = -3e-8f;
  logits[0][0][0][2] = -2e-7f;
  logits[0][0][0][3] = 0.0f;
  logits[0][0][0][4] = -0.0f;
  logits[1][2].fill_(-1.0f);  // a query blocked everywhere looks everywhere
  const at::Tensor got = kernels::blocked_keys(logits);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 5, 42}));
  ASSERT_EQ(got.scalar_type(), at::kBool);
  EXPECT_TRUE(at::equal(got, reference(logits)));
  EXPECT_FALSE(got[1][2].any().item<bool>());
  EXPECT_TRUE(got[0][0][2].item<bool>());   // −2e-7: blocked
  EXPECT_FALSE(got[0][0][0].item<bool>());  // −1e-8: sigmoid 0.5, open
  // Not contiguous: ATen's ops, the same answer.
  const at::Tensor strided = logits.transpose(2, 3).contiguous().transpose(2, 3);
  EXPECT_TRUE(at::equal(kernels::blocked_keys(strided), reference(logits)));
  EXPECT_THROW(kernels::blocked_keys(at::zeros({2, 3, 4})), Error);
}
