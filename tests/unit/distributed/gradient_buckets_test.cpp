// Gradients averaged over two ranks (threads of this process, over loopback), with the
// all-reduces overlapping backward and without: the same gradients, the same weights after a
// few steps as one rank with the whole batch, and unused parameters that count as zeros.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/full.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <mutex>

#include "distributed/gradient_buckets.h"
#include "loopback_ranks.h"
#include "segkit/distributed.h"
#include "segkit/threads.h"

namespace {

using segkit::distributed::GradientBuckets;
using segkit::distributed::ProcessGroup;
using segkit::test::run_ranks;
using Overlap = GradientBuckets::Overlap;
const std::vector<std::string> kNoErrors{"(no error)", "(no error)"};

at::Tensor leaf(at::Tensor t) { return t.set_requires_grad(true); }

// conv 3×3 (1→4) + bias, ReLU, conv 1×1 (4→2) + bias; `unused` (index 1) never takes part.
// In buckets of 16 floats: {head bias, head weight, conv bias}, which starts inside backward,
// then {unused}, which waits for after_backward(), and {conv weight}, which waits for it.
struct TinyNet {
  std::vector<at::Tensor> parameters;
  TinyNet() {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    parameters = {leaf(at::randn({4, 1, 3, 3}, gen) * 0.5), leaf(at::ones({3})), leaf(at::zeros({4})),
                  leaf(at::randn({2, 4, 1, 1}, gen) * 0.5), leaf(at::zeros({2}))};
  }
  at::Tensor loss(const at::Tensor& input, const at::Tensor& target) const {
    const at::Tensor hidden = at::relu(at::conv2d(input, parameters[0], parameters[2], {1, 1}, {1, 1}));
    return at::mse_loss(at::conv2d(hidden, parameters[3], parameters[4]), target);
  }
};

// Step s's whole batch of `global` samples; a rank takes its consecutive share.
std::pair<at::Tensor, at::Tensor> batch(int step, int global) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(100 + step);
  return {at::randn({global, 1, 6, 6}, gen), at::randn({global, 2, 6, 6}, gen)};
}

constexpr int kSteps = 4, kPerRank = 2;

struct Trained {
  std::vector<at::Tensor> weights, last_gradients;
  size_t buckets = 0, started_during_backward = 0;
};

// kSteps of SGD; with a group, each rank on its share and gradients averaged by the buckets.
Trained train(ProcessGroup* group, Overlap overlap) {
  segkit::set_num_threads(1);
  TinyNet net;
  const int ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
  std::unique_ptr<GradientBuckets> buckets;
  if (group) buckets = std::make_unique<GradientBuckets>(net.parameters, *group, 64, overlap);  // 16 floats
  Trained out;
  for (int step = 0; step < kSteps; ++step) {
    auto [input, target] = batch(step, 2 * kPerRank);
    const int share = 2 * kPerRank / ranks;
    input = input.narrow(0, rank * share, share);
    target = target.narrow(0, rank * share, share);
    for (auto& p : net.parameters)
      if (p.grad().defined()) p.mutable_grad().zero_();
    if (buckets) buckets->before_backward();
    net.loss(input, target).backward();
    if (buckets) buckets->after_backward();
    at::NoGradGuard no_grad;
    for (auto& p : net.parameters)
      if (p.grad().defined()) p.sub_(p.grad() * 0.1);
  }
  for (auto& p : net.parameters) {
    out.weights.push_back(p.detach().clone());
    out.last_gradients.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  }
  if (buckets) {
    out.buckets = buckets->bucket_count();
    out.started_during_backward = buckets->started_during_backward();
  }
  return out;
}

double max_difference(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// Rank 0's results with overlap, then without, in one group.
std::pair<Trained, Trained> on_two_ranks() {
  std::pair<Trained, Trained> rank0;
  std::mutex m;
  EXPECT_EQ(run_ranks(2,
                      [&](ProcessGroup& group) {
                        Trained overlapped = train(&group, Overlap::WithBackward);
                        Trained after = train(&group, Overlap::AfterBackward);
                        std::lock_guard<std::mutex> lock(m);
                        if (group.rank() == 0) rank0 = {overlapped, after};
                      }),
            kNoErrors);
  return rank0;
}

}  // namespace

TEST(GradientBuckets, FillsBucketsLastParameterFirst) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto errors = run_ranks(1, [](ProcessGroup& group) {
    // 4, 6 and 10 floats in buckets of at most 40 bytes: {c}, then {b, a}.
    std::vector<at::Tensor> params{leaf(at::zeros({4})), leaf(at::zeros({6})), leaf(at::zeros({2, 5}))};
    GradientBuckets buckets(params, group, 40);
    ASSERT_EQ(buckets.bucket_count(), 2u);
    EXPECT_EQ(buckets.bucket_members(0), (std::vector<size_t>{2}));
    EXPECT_EQ(buckets.bucket_members(1), (std::vector<size_t>{1, 0}));
    EXPECT_EQ(buckets.values(), 20);
    // All 80 bytes fit one bucket of 80, unless the first may hold only 16: {c}, then {b, a}.
    EXPECT_EQ(GradientBuckets(params, group, 80, Overlap::WithBackward, 80).bucket_count(), 1u);
    GradientBuckets small_first(params, group, 80, Overlap::WithBackward, 16);
    ASSERT_EQ(small_first.bucket_count(), 2u);
    EXPECT_EQ(small_first.bucket_members(0), (std::vector<size_t>{2}));
    EXPECT_EQ(small_first.bucket_members(1), (std::vector<size_t>{1, 0}));
  });
  EXPECT_EQ(errors, std::vector<std::string>{"(no error)"});
}

TEST(GradientBuckets, AveragesGradientsSetByHand) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto errors = run_ranks(2, [](ProcessGroup& group) {
    for (Overlap overlap : {Overlap::WithBackward, Overlap::AfterBackward}) {
      // b has no gradient on rank 0: it counts as zero there.
      std::vector<at::Tensor> params{leaf(at::zeros({4})), leaf(at::zeros({6})), leaf(at::zeros({2, 5}))};
      const float r = static_cast<float>(group.rank());
      params[0].mutable_grad() = at::full({4}, r + 1);
      if (group.rank() == 1) params[1].mutable_grad() = at::full({6}, 4.0f);
      params[2].mutable_grad() = at::full({2, 5}, 10 * r);
      GradientBuckets buckets(params, group, 40, overlap);
      buckets.average();
      EXPECT_TRUE(params[0].grad().eq(1.5f).all().item<bool>()) << params[0].grad();
      EXPECT_TRUE(params[1].grad().eq(2.0f).all().item<bool>()) << params[1].grad();
      EXPECT_TRUE(params[2].grad().eq(5.0f).all().item<bool>()) << params[2].grad();
      EXPECT_EQ(buckets.started_during_backward(), 0u);
    }
  });
  EXPECT_EQ(errors, kNoErrors);
}

TEST(GradientBuckets, OverlappedMatchesAfterBackwardAndOneRankWithTheWholeBatch) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto [overlapped, after] = on_two_ranks();
  const Trained alone = train(nullptr, Overlap::AfterBackward);
  ASSERT_EQ(overlapped.weights.size(), alone.weights.size());
  EXPECT_EQ(overlapped.buckets, 3u);
  EXPECT_EQ(overlapped.started_during_backward, 1u);
  EXPECT_EQ(after.started_during_backward, 0u);
  EXPECT_LT(max_difference(overlapped.last_gradients, after.last_gradients), 1e-7);
  EXPECT_LT(max_difference(overlapped.weights, after.weights), 1e-7);
  EXPECT_LT(max_difference(overlapped.weights, alone.weights), 1e-5);
  // The unused parameter: a zero gradient, the weights it started with.
  EXPECT_TRUE(overlapped.last_gradients[1].eq(0).all().item<bool>()) << overlapped.last_gradients[1];
  EXPECT_TRUE(overlapped.weights[1].eq(1).all().item<bool>()) << overlapped.weights[1];
  // And the run moved the others: the comparison is not of starting weights.
  EXPECT_GT(max_difference(overlapped.weights, TinyNet().parameters), 1e-3);
}

TEST(GradientBuckets, AParameterUsedOnOneRankOnlyCountsAsZeroOnTheOther) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto errors = run_ranks(2, [](ProcessGroup& group) {
    segkit::set_num_threads(1);
    std::vector<at::Tensor> p{leaf(at::ones({2})), leaf(at::ones({3})), leaf(at::ones({4}))};
    GradientBuckets buckets(p, group, 16);  // one bucket each: {p2}, {p1}, {p0}
    ASSERT_EQ(buckets.bucket_count(), 3u);
    for (int step = 0; step < 2; ++step) {
      for (auto& t : p)
        if (t.grad().defined()) t.mutable_grad().zero_();
      buckets.before_backward();
      const at::Tensor loss = group.rank() == 0 ? (p[0] * 2).sum() + (p[2] * 3).sum()
                                                : (p[0] * 4).sum() + (p[1] * 5).sum() + p[2].sum();
      loss.backward();
      buckets.after_backward();
      EXPECT_TRUE(p[0].grad().eq(3.0f).all().item<bool>()) << p[0].grad();
      EXPECT_TRUE(p[1].grad().eq(2.5f).all().item<bool>()) << p[1].grad();
      EXPECT_TRUE(p[2].grad().eq(2.0f).all().item<bool>()) << p[2].grad();
      // Rank 0's {p0} is full during backward but waits for {p1}, which only after_backward fills.
      EXPECT_EQ(buckets.started_during_backward(), group.rank() == 0 ? 1u : 3u);
    }
  });
  EXPECT_EQ(errors, kNoErrors);
}
