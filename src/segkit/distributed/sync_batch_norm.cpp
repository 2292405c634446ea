#include "distributed/sync_batch_norm.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>

#include <algorithm>
#include <cstdint>
#include <vector>
#include <torch/csrc/autograd/custom_function.h>

namespace segkit::distributed {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor per_channel(const at::Tensor& v) { return v.view({1, -1, 1, 1}); }

struct SyncBatchNorm : torch::autograd::Function<SyncBatchNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& running_mean, const at::Tensor& running_var,
                            double momentum, double eps, ProcessGroup* group) {
    const int64_t channels = input.size(1);
    // Sums in float64: the variance is E[x²] − mean², which would cancel badly in float32.
    const at::Tensor wide = input.to(at::kDouble);
    std::vector<at::Tensor> stats{at::cat({wide.sum({0, 2, 3}), wide.mul(wide).sum({0, 2, 3}),
                                           at::full({1}, static_cast<double>(input.numel() / channels), at::kDouble)})};
    group->all_reduce_sum(stats, "batch-norm statistics all-reduce");
    const double count = stats[0][2 * channels].item<double>();
    const at::Tensor mean = stats[0].narrow(0, 0, channels) / count;
    const at::Tensor var = (stats[0].narrow(0, channels, channels) / count - mean * mean).clamp_min(0);
    const at::Tensor invstd = (var + eps).rsqrt();

    running_mean.mul_(1 - momentum).add_(mean.to(at::kFloat), momentum);
    running_var.mul_(1 - momentum).add_(var.to(at::kFloat), momentum * count / std::max(count - 1, 1.0));

    const at::Tensor mean_f = mean.to(at::kFloat), invstd_f = invstd.to(at::kFloat);
    const at::Tensor scale = weight * invstd_f, shift = bias - mean_f * scale;
    ctx->save_for_backward({input, weight, mean_f, invstd_f});
    ctx->saved_data["count"] = count;
    // The group is not a tensor: kept as an address (it outlives the step's graph).
    ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(group));
    return input * per_channel(scale) + per_channel(shift);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &input = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    auto* group = reinterpret_cast<ProcessGroup*>(static_cast<intptr_t>(ctx->saved_data["group"].toInt()));
    const at::Tensor& dy = grads[0];
    const int64_t channels = input.size(1);

    const at::Tensor centred = input - per_channel(mean);
    const at::Tensor sum_dy = dy.sum({0, 2, 3}), sum_dy_centred = (dy * centred).sum({0, 2, 3});
    const at::Tensor grad_weight = sum_dy_centred * invstd, grad_bias = sum_dy;
    // Every rank reduces, whatever needs the input gradient: the ranks' collectives must match.
    std::vector<at::Tensor> sums{at::cat({sum_dy, sum_dy_centred})};
    group->all_reduce_sum(sums, "batch-norm gradient all-reduce");
    const at::Tensor mean_dy = sums[0].narrow(0, 0, channels) / count;
    const at::Tensor mean_dy_centred = sums[0].narrow(0, channels, channels) / count;
    const at::Tensor grad_input =
        (dy - per_channel(mean_dy) - centred * per_channel(invstd * invstd * mean_dy_centred)) *
        per_channel(weight * invstd);
    return {grad_input, grad_weight, grad_bias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor sync_batch_norm(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var, double momentum, double eps,
                           ProcessGroup& group) {
  return SyncBatchNorm::apply(input, weight, bias, running_mean, running_var, momentum, eps, &group);
}

}  // namespace segkit::distributed
