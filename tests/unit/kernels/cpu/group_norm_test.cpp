// kernels/cpu/group_norm: in place, against at::group_norm (and at::relu), on channels-last maps
// (the kernel) and any other layout (ATen's ops), the same values for any thread count; the
// bfloat16 copy is the result rounded, on each kernel path.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <string>

#include "core/cpu_features.h"
#include "kernels/cpu/group_norm.h"
#include "segkit/error.h"
#include "test_util.h"

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

TEST(GroupNorm, MatchesATenInPlaceWithAndWithoutTheRelu) {
  const Case c = make_case();
  const at::Tensor normed = at::group_norm(c.x, 6, c.weight, c.bias, 1e-5);
  EXPECT_GT(normed.lt(0).sum().item<int64_t>(), 0);  // so the clamp has something to do
  for (bool relu : {false, true}) {
    const at::Tensor want = relu ? at::relu(normed) : normed;
    at::Tensor cl = c.x.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
    const void* data = cl.data_ptr();
    kernels::group_norm_(cl, 6, c.weight, c.bias, 1e-5, relu);
    EXPECT_EQ(cl.data_ptr(), data);
    EXPECT_TRUE(at::allclose(cl, want, 1e-5, 1e-5)) << "relu " << relu;
    at::Tensor plain = c.x.clone();  // contiguous: ATen's ops, copied back
    kernels::group_norm_(plain, 6, c.weight, c.bias, 1e-5, relu);
    EXPECT_TRUE(at::allclose(plain, want, 1e-5, 1e-5)) << "relu " << relu;
  }
}

TEST(GroupNorm, Bfloat16CopyIsTheResultRounded) {
  // 24 channels: a vector of 16 and a tail of 8 per pixel; 32: two whole vectors.
  for (int64_t channels : {24, 32}) {
    const at::Tensor x = at::randn({2, channels, 5, 7}) * 3 + 5;
    const at::Tensor weight = at::randn({channels}), bias = at::randn({channels});
    for (const auto kernels : {core::CpuKernels::portable, core::CpuKernels::avx512}) {
      const test::KernelCeiling ceiling(kernels);
      for (bool relu : {false, true}) {
        SCOPED_TRACE(std::to_string(channels) + " channels, kernels " + std::to_string(int(kernels)) + ", relu " +
                     std::to_string(relu));
        at::Tensor cl = x.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
        const at::Tensor copy = kernels::group_norm_(cl, 4, weight, bias, 1e-5, relu, at::kBFloat16);
        ASSERT_EQ(copy.scalar_type(), at::kBFloat16);
        EXPECT_TRUE(copy.is_contiguous(at::MemoryFormat::ChannelsLast));
        EXPECT_TRUE(at::equal(copy, cl.to(at::kBFloat16)));
        at::Tensor plain = x.clone();  // ATen's ops: the copy converted after
        const at::Tensor plain_copy = kernels::group_norm_(plain, 4, weight, bias, 1e-5, relu, at::kBFloat16);
        EXPECT_TRUE(at::equal(plain_copy, plain.to(at::kBFloat16)));
        EXPECT_FALSE(kernels::group_norm_(cl, 4, weight, bias, 1e-5, relu).defined());
      }
    }
  }
  at::Tensor x = at::randn({1, 8, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_THROW(kernels::group_norm_(x, 2, at::ones({8}), at::zeros({8}), 1e-5, false, at::kHalf), Error);
}

TEST(GroupNorm, TheSameForAnyThreadCount) {
  const Case c = make_case();
  const int threads = at::get_num_threads();
  at::Tensor one = c.x.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
  at::Tensor many = one.clone(at::MemoryFormat::ChannelsLast);
  at::set_num_threads(1);
  kernels::group_norm_(one, 4, c.weight, c.bias, 1e-5, true);
  at::set_num_threads(std::max(threads, 2));
  kernels::group_norm_(many, 4, c.weight, c.bias, 1e-5, true);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, many));
}

TEST(GroupNorm, RefusesGroupsThatDoNotDivideTheChannels) {
  const Case c = make_case();
  at::Tensor x = c.x.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_THROW(kernels::group_norm_(x, 5, c.weight, c.bias, 1e-5, false), Error);
  EXPECT_THROW(kernels::group_norm_(x, 6, c.weight.slice(0, 0, 12), c.bias, 1e-5, false), Error);
}
