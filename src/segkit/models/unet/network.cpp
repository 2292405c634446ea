#include "models/unet/network.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/batch_norm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <c10/util/Optional.h>

#include <cmath>

#include "core/heap_reuse.h"
#include "core/memory_cache.h"
#include "distributed/sync_batch_norm.h"
#include "models/unet/layers.h"
#include "segkit/error.h"

namespace segkit::unet {

namespace {
constexpr double kBatchNormMomentum = 0.1, kBatchNormEps = 1e-5;  // PyTorch's defaults

// Valid padding: the skip connection is larger than the upsampled path; keep its centre.
at::Tensor centre_crop(const at::Tensor& x, int64_t h, int64_t w) {
  const int64_t top = (x.size(2) - h) / 2, left = (x.size(3) - w) / 2;
  return x.narrow(2, top, h).narrow(3, left, w);
}
}  // namespace

at::Tensor Network::add(const std::string& name, std::vector<int64_t> shape, bool trainable) {
  at::Tensor t = at::empty(shape, at::kFloat);
  state_.push_back({name, t, trainable});
  return t;
}

Network::ConvNorm Network::make_conv(const std::string& prefix, const std::string& suffix, int64_t in,
                                     int64_t out) {
  ConvNorm c;
  c.weight = add(prefix + ".conv" + suffix + ".weight", {out, in, 3, 3});
  if (config_.batch_norm) {
    const std::string bn = prefix + ".bn" + suffix;
    c.bn_weight = add(bn + ".weight", {out});
    c.bn_bias = add(bn + ".bias", {out});
    c.running_mean = add(bn + ".running_mean", {out}, false);
    c.running_var = add(bn + ".running_var", {out}, false);
    c.batches_tracked = at::empty({}, at::kLong);
    state_.push_back({bn + ".num_batches_tracked", c.batches_tracked, false});
  } else {
    c.bias = add(prefix + ".conv" + suffix + ".bias", {out});
  }
  return c;
}

Network::DoubleConv Network::make_double(const std::string& prefix, int64_t in, int64_t out) {
  DoubleConv d;
  d.first = make_conv(prefix, "1", in, out);
  d.second = make_conv(prefix, "2", out, out);
  return d;
}

Network::Network(const UNetConfig& config) : config_(config) {
  config_.validate();
  core::use_tensor_memory_cache();
  core::keep_freed_heap_for_reuse();
  const int64_t w = config_.width;
  int64_t in = config_.in_channels;
  for (int level = 0; level <= config_.depth; ++level) {
    const int64_t out = w << level;
    encoder_.push_back(make_double("encoder." + std::to_string(level), in, out));
    in = out;
  }
  for (int step = 0; step < config_.depth; ++step) {
    const int level = config_.depth - 1 - step;  // the level this step climbs to
    const int64_t coarse = w << (level + 1), fine = w << level;
    const std::string prefix = "decoder." + std::to_string(step);
    UpStep up;
    if (config_.upsample == UNetUpsample::Transpose) up.weight = add(prefix + ".up.weight", {coarse, fine, 2, 2});
    else up.weight = add(prefix + ".up.weight", {fine, coarse, 1, 1});
    up.bias = add(prefix + ".up.bias", {fine});
    up.conv = make_double(prefix, 2 * fine, fine);
    decoder_.push_back(std::move(up));
  }
  head_weight_ = add("head.weight", {config_.classes, w, 1, 1});
  head_bias_ = add("head.bias", {config_.classes});
  for (auto& t : state_)
    if (t.trainable) t.tensor.set_requires_grad(true);
}

void Network::initialize(uint64_t seed) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& t : state_) {
    const std::string& n = t.name;
    auto ends_with = [&](const char* s) {
      const size_t len = std::char_traits<char>::length(s);
      return n.size() >= len && n.compare(n.size() - len, len, s) == 0;
    };
    if (ends_with("num_batches_tracked") || ends_with("running_mean")) {
      t.tensor.zero_();
    } else if (ends_with("running_var")) {
      t.tensor.fill_(1.0);
    } else if (n.find(".bn") != std::string::npos) {
      t.tensor.fill_(ends_with(".weight") ? 1.0 : 0.0);
    } else if (ends_with(".bias")) {
      t.tensor.zero_();
    } else {
      // Kaiming normal for ReLU, fan-in mode; a transposed convolution's fan-in is its dim 0.
      const bool transposed = n.find(".up.") != std::string::npos && config_.upsample == UNetUpsample::Transpose;
      const int64_t fan_in = (transposed ? t.tensor.size(0) : t.tensor.size(1)) * t.tensor.size(2) * t.tensor.size(3);
      t.tensor.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_in)), gen);
    }
  }
}

std::vector<at::Tensor> Network::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& t : state_)
    if (t.trainable) out.push_back(t.tensor);
  return out;
}

std::vector<at::Tensor> Network::tensors() const {
  std::vector<at::Tensor> out;
  for (const NamedTensor& t : state_) out.push_back(t.tensor);
  return out;
}

at::Tensor Network::run(ConvNorm& c, const at::Tensor& x, bool training) const {
  const int64_t pad = config_.padding == UNetPadding::Same ? 1 : 0;
  at::Tensor y = x.size(1) <= 4 ? narrow_input_conv(x, c.weight, c.bias, pad)
                                : at::conv2d(x, c.weight, c.bias, {1, 1}, {pad, pad});
  if (config_.batch_norm) {
    if (training && batch_norm_group_)
      y = distributed::sync_batch_norm(y.to(at::kFloat), c.bn_weight, c.bn_bias, c.running_mean, c.running_var,
                                       kBatchNormMomentum, kBatchNormEps, *batch_norm_group_);
    else
      y = at::batch_norm(y, c.bn_weight, c.bn_bias, c.running_mean, c.running_var, training, kBatchNormMomentum,
                         kBatchNormEps, false);
    if (training) {
      at::NoGradGuard no_grad;
      c.batches_tracked.add_(1);
    }
  }
  return at::relu_(y);
}

at::Tensor Network::run(DoubleConv& d, const at::Tensor& x, bool training) const {
  return run(d.second, run(d.first, x, training), training);
}

at::Tensor Network::forward(const at::Tensor& input, bool training, double dropout,
                            c10::optional<at::Generator> dropout_rng) {
  if (input.dim() != 4 || input.size(1) != config_.in_channels)
    fail("U-Net", "expected input N×" + std::to_string(config_.in_channels) + "×H×W");
  for (int axis : {2, 3})
    if (config_.output_size(static_cast<int>(input.size(axis))) < 1)
      fail("U-Net", "input side " + std::to_string(input.size(axis)) + " does not fit " + config_.describe());
  std::vector<at::Tensor> skips;
  // Channels-last activations: oneDNN's fast convolution path on CPU for narrow layers (about
  // 30× faster than NCHW at 16 channels); weights stay NCHW, as in the checkpoint.
  at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
  for (int level = 0; level < config_.depth; ++level) {
    x = run(encoder_[level], x, training);
    skips.push_back(x);
    x = at::max_pool2d(x, {2, 2}, {2, 2});
  }
  x = run(encoder_[config_.depth], x, training);
  if (training && dropout > 0) x = at::mul(x, at::empty_like(x).bernoulli_(1.0 - dropout, dropout_rng).div_(1.0 - dropout));
  for (int step = 0; step < config_.depth; ++step) {
    UpStep& up = decoder_[step];
    if (config_.upsample == UNetUpsample::Transpose) {
      x = up_convolution(x, up.weight, up.bias);
    } else {
      x = at::upsample_bilinear2d(x, {x.size(2) * 2, x.size(3) * 2}, false, c10::nullopt, c10::nullopt);
      x = at::conv2d(x, up.weight, up.bias);
    }
    const at::Tensor& skip = skips[config_.depth - 1 - step];
    x = run(up.conv, at::cat({centre_crop(skip, x.size(2), x.size(3)), x}, 1), training);
  }
  return at::conv2d(x, head_weight_, head_bias_).contiguous();
}

}  // namespace segkit::unet
