// kernels/cpu/group_norm_relu: in place, against at::relu(at::group_norm(...)), on channels-last
// maps (the kernel) and any other layout (ATen's ops), the same values for any thread count.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "kernels/cpu/group_norm_relu.h"
#include "segkit/error.h"

using namespace segkit;

namespace {

struct Case {
  at::Tensor x, weight, bias;
};

Case make_case() {
  // An offset mean and a wide range, so that the variance is not the trivial part.
  return {at::randn({2, 24, 7, 9}) * 3 + 5, at::randn({24}), at::randn({24})};
}

}  // namespace

TEST(GroupNormRelu, MatchesATenInPlace) {
  const Case c = make_case();
  const at::Tensor want = at::relu(at::group_norm(c.x, 6, c.weight, c.bias, 1e-5));
  at::Tensor cl = c.x.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
  const void* data = cl.data_ptr();
  kernels::group_norm_relu_(cl, 6, c.weight, c.bias, 1e-5);
  EXPECT_EQ(cl.data_ptr(), data);
  EXPECT_TRUE(at::allclose(cl, want, 1e-5, 1e-5));
  EXPECT_GT(want.eq(0).sum().item<int64_t>(), 0);  // the clamp did something
  at::Tensor plain = c.x.clone();  // contiguous: ATen's ops, copied back
  kernels::group_norm_relu_(plain, 6, c.weight, c.bias, 1e-5);
  EXPECT_TRUE(at::allclose(plain, want, 1e-5, 1e-5));
}

TEST(GroupNormRelu, TheSameForAnyThreadCount) {
  const Case c = make_case();
  const int threads = at::get_num_threads();
  at::Tensor one = c.x.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
  at::Tensor many = one.clone(at::MemoryFormat::ChannelsLast);
  at::set_num_threads(1);
  kernels::group_norm_relu_(one, 4, c.weight, c.bias, 1e-5);
  at::set_num_threads(std::max(threads, 2));
  kernels::group_norm_relu_(many, 4, c.weight, c.bias, 1e-5);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, many));
}

TEST(GroupNormRelu, RefusesGroupsThatDoNotDivideTheChannels) {
  const Case c = make_case();
  at::Tensor x = c.x.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_THROW(kernels::group_norm_relu_(x, 5, c.weight, c.bias, 1e-5), Error);
  EXPECT_THROW(kernels::group_norm_relu_(x, 6, c.weight.slice(0, 0, 12), c.bias, 1e-5), Error);
}
