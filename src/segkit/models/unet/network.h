#pragma once
// The U-Net itself, written directly on ATen operators: its weights are a flat, ordered list of
// named tensors (PyTorch state-dict names and layouts), which is all a checkpoint holds.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <string>
#include <vector>

#include "segkit/unet.h"

namespace segkit::distributed {
class ProcessGroup;
}

namespace segkit::unet {

struct NamedTensor {
  std::string name;  // e.g. "encoder.0.conv1.weight"
  at::Tensor tensor;
  bool trainable;    // false for batch-norm running statistics
};

class Network {
 public:
  explicit Network(const UNetConfig& config);  // tensors allocated, not initialised
  void initialize(uint64_t seed);               // Kaiming-normal convolutions, unit batch norm

  // Logits N × classes × H' × W'. `training` uses batch statistics and updates the running ones;
  // with a dropout probability, the bottleneck's output units are dropped with it, drawn from
  // `dropout_rng` (training only).
  at::Tensor forward(const at::Tensor& input, bool training, double dropout = 0.0,
                     c10::optional<at::Generator> dropout_rng = c10::nullopt);

  // Batch norm in training over the batches of all ranks of `group` (--sync-batch-norm); null:
  // over this process's batch alone. The group must outlive the training steps.
  void synchronise_batch_norm(distributed::ProcessGroup* group) { batch_norm_group_ = group; }

  const UNetConfig& config() const { return config_; }
  std::vector<NamedTensor>& state() { return state_; }
  const std::vector<NamedTensor>& state() const { return state_; }
  std::vector<at::Tensor> parameters() const;  // trainable tensors in state order
  std::vector<at::Tensor> tensors() const;     // every tensor (statistics too) in state order

 private:
  struct ConvNorm {  // 3×3 convolution, then batch norm (or a bias), then ReLU
    at::Tensor weight, bias, bn_weight, bn_bias, running_mean, running_var, batches_tracked;
  };
  struct DoubleConv {
    ConvNorm first, second;
  };
  struct UpStep {
    at::Tensor weight, bias;  // transposed 2×2 convolution, or 1×1 after bilinear upsampling
    DoubleConv conv;
  };

  at::Tensor add(const std::string& name, std::vector<int64_t> shape, bool trainable = true);
  ConvNorm make_conv(const std::string& prefix, const std::string& suffix, int64_t in, int64_t out);
  DoubleConv make_double(const std::string& prefix, int64_t in, int64_t out);
  at::Tensor run(ConvNorm& c, const at::Tensor& x, bool training) const;
  at::Tensor run(DoubleConv& d, const at::Tensor& x, bool training) const;

  UNetConfig config_;
  std::vector<NamedTensor> state_;
  std::vector<DoubleConv> encoder_;  // depth + 1 levels; the last is the bottleneck
  std::vector<UpStep> decoder_;      // depth steps, coarsest first
  at::Tensor head_weight_, head_bias_;
  distributed::ProcessGroup* batch_norm_group_ = nullptr;
};

}  // namespace segkit::unet
