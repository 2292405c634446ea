#pragma once
// What a loaded Mask2FormerModel holds, and mask2former::Internals, the library's way in.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "hub/model_locator.h"
#include "models/mask2former/pixel_decoder.h"
#include "models/mask2former/swin.h"
#include "models/mask2former/transformer_decoder.h"
#include "segkit/mask2former.h"

namespace segkit {

struct Mask2FormerModel::Impl {
  Mask2FormerConfig config;
  Mask2FormerProcessorConfig processor;
  std::string source;
  ModelLocation location;
  int64_t parameter_count = 0;
  Precision precision = Precision::Fp32;
  at::Device device = at::kCPU;  // where the weights are and the network runs
  mask2former::SwinBackbone backbone;
  mask2former::PixelDecoder pixel_decoder;
  mask2former::TransformerDecoder transformer_decoder;
  std::vector<std::shared_ptr<const void>> backing_files;
};

namespace mask2former {

// The network's outputs for a batch, as tensors (the public API copies them out).
struct RawOutput {
  at::Tensor pixel_values;  // B × 3 × H × W
  std::vector<at::Tensor> backbone_features;
  PixelDecoderOutput pixel_decoder;
  DecoderOutput decoder;
  const DecoderPrediction& last() const { return decoder.predictions.back(); }
};

struct Internals {
  static const Mask2FormerModel::Impl& of(const Mask2FormerModel& model) { return *model.impl_; }
  // pixel_values B × 3 × H × W (on any device: they go to the model's) through every stage;
  // the outputs stay on the model's device.
  static RawOutput run(const Mask2FormerModel& model, const at::Tensor& pixel_values, bool all_layers = false);
};

}  // namespace mask2former
}  // namespace segkit
