// Synchronised batch norm on two ranks (threads of this process, over loopback): two ranks of
// batch b train to the weights and running statistics of one rank of batch 2b, which per-rank
// batch norm does not.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/batch_norm.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <mutex>

#include "distributed/gradient_buckets.h"
#include "distributed/sync_batch_norm.h"
#include "loopback_ranks.h"
#include "segkit/distributed.h"
#include "segkit/threads.h"

namespace {

using segkit::distributed::GradientBuckets;
using segkit::distributed::ProcessGroup;

// conv 3×3 (1→3, no bias), batch norm, ReLU, conv 1×1 (3→2) + bias.
struct BatchNormNet {
  std::vector<at::Tensor> parameters;  // conv, bn weight, bn bias, head weight, head bias
  at::Tensor running_mean = at::zeros({3}), running_var = at::ones({3});
  BatchNormNet() {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    parameters = {at::randn({3, 1, 3, 3}, gen), at::ones({3}), at::zeros({3}), at::randn({2, 3, 1, 1}, gen) * 0.5,
                  at::zeros({2})};
    for (auto& p : parameters) p.set_requires_grad(true);
  }
  at::Tensor loss(const at::Tensor& input, const at::Tensor& target, ProcessGroup* sync) {
    // Channels-last, as the U-Net's activations are.
    const at::Tensor x = at::conv2d(input, parameters[0], {}, {1, 1}, {1, 1}).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor y = sync ? segkit::distributed::sync_batch_norm(x, parameters[1], parameters[2], running_mean,
                                                                      running_var, 0.1, 1e-5, *sync)
                              : at::batch_norm(x, parameters[1], parameters[2], running_mean, running_var, true, 0.1,
                                               1e-5, false);
    return at::mse_loss(at::conv2d(at::relu(y), parameters[3], parameters[4]), target);
  }
};

constexpr int kSteps = 3, kPerRank = 2;

// Weights, then running mean and variance, after kSteps of SGD.
std::vector<at::Tensor> train(ProcessGroup* group, bool synchronised) {
  segkit::set_num_threads(1);
  BatchNormNet net;
  const int ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
  std::unique_ptr<ProcessGroup> batch_norm_group;
  if (synchronised) batch_norm_group = group->subgroup("batch-norm");
  std::unique_ptr<GradientBuckets> buckets;
  if (group) buckets = std::make_unique<GradientBuckets>(net.parameters, *group, 64);
  for (int step = 0; step < kSteps; ++step) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(200 + step);
    const int share = 2 * kPerRank / ranks;
    // Inputs off zero mean and unit variance, so that the statistics matter.
    const at::Tensor input = (at::randn({2 * kPerRank, 1, 6, 6}, gen) * 2 + 1).narrow(0, rank * share, share);
    const at::Tensor target = at::randn({2 * kPerRank, 2, 6, 6}, gen).narrow(0, rank * share, share);
    for (auto& p : net.parameters)
      if (p.grad().defined()) p.mutable_grad().zero_();
    if (buckets) buckets->before_backward();
    net.loss(input, target, batch_norm_group.get()).backward();
    if (buckets) buckets->after_backward();
    at::NoGradGuard no_grad;
    for (auto& p : net.parameters) p.sub_(p.grad() * 0.2);
  }
  std::vector<at::Tensor> out;
  for (auto& p : net.parameters) out.push_back(p.detach().clone());
  out.push_back(net.running_mean);
  out.push_back(net.running_var);
  return out;
}

// By rank: synchronised, then per-rank batch norm, in one group.
std::vector<std::vector<at::Tensor>> synced(2), local(2);
void on_two_ranks() {
  std::mutex m;
  const auto errors = segkit::test::run_ranks(2, [&](ProcessGroup& group) {
    auto a = train(&group, true);
    auto b = train(&group, false);
    std::lock_guard<std::mutex> lock(m);
    synced[group.rank()] = a;
    local[group.rank()] = b;
  });
  EXPECT_EQ(errors, (std::vector<std::string>{"(no error)", "(no error)"}));
}

double max_difference(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

}  // namespace

TEST(SyncBatchNorm, TwoRanksOfBatchBMatchOneRankOfBatch2B) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto alone = train(nullptr, false);
  on_two_ranks();
  ASSERT_EQ(synced[0].size(), alone.size());
  ASSERT_EQ(local[0].size(), alone.size());
  EXPECT_LT(max_difference(synced[0], alone), 1e-5);
  EXPECT_LT(max_difference(synced[1], alone), 1e-5);
  // Every rank computed the same running statistics: nothing to broadcast.
  EXPECT_LT(max_difference({synced[0][5], synced[0][6]}, {synced[1][5], synced[1][6]}), 1e-7);
  // Per-rank batch norm normalises each half by its own statistics: another result.
  EXPECT_GT(max_difference(local[0], alone), 1e-3);
  EXPECT_GT(max_difference({local[0][5], local[0][6]}, {alone[5], alone[6]}), 1e-3);
}
