#pragma once
// Mask2Former's pixel decoder (transformers' Mask2FormerPixelDecoder): the coarsest backbone
// stages (1/32, 1/16, 1/8) are projected to d channels and refined together by a deformable-
// attention encoder; an FPN step adds the finer stages back (1/4), and a 1×1 convolution turns
// the result into the per-pixel mask features.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/cpu/deformable_sampling.h"
#include "kernels/cpu/winograd_conv.h"
#include "nn/checked_layers.h"
#include "models/mask2former/deformable_encoder_layer.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::mask2former {

struct PixelDecoderConfig {
  int64_t hidden_dim;  // d (transformers' feature_size)
  int64_t mask_feature_size;
  int encoder_layers;
  int64_t encoder_feedforward_dim;
  int64_t heads;
  std::vector<int64_t> in_channels;  // the backbone stages' channels, strides 4, 8, 16, 32, …
  int common_stride = 4;             // stride of the mask features
  int levels = 3;                    // stages refined by the encoder (the coarsest ones)
  int points = 4;                    // sampling points per head and level
};

struct PixelDecoderOutput {
  std::vector<at::Tensor> multi_scale;  // the encoder's levels, B×d×H×W channels-last, coarsest (1/32) first
  at::Tensor mask_features;             // B×mask_feature_size×H/common_stride×W/common_stride
};

class PixelDecoder {
 public:
  // prefix: "model.pixel_level_module.decoder." (with the trailing dot).
  static PixelDecoder load(const nn::WeightMap& w, const std::string& prefix, const PixelDecoderConfig& c);

  // features: the backbone's NCHW maps, finest first (strides 4, 8, 16, 32 for Swin).
  PixelDecoderOutput operator()(const std::vector<at::Tensor>& features) const;

  // The encoder's input, public so tests can compare the steps with transformers' hooks.
  struct EncoderInput {
    std::vector<at::Tensor> projections;  // input_projections' outputs, B×d×H_l×W_l, coarsest first
    std::vector<kernels::LevelShape> levels;
    at::Tensor states;            // B×S×d: the projections flattened row-major and concatenated
    at::Tensor position;          // 1×S×d: sine embedding plus the level's embedding
    at::Tensor reference_points;  // S×2: each position's centre, normalised (x, y)
  };
  EncoderInput encoder_input(const std::vector<at::Tensor>& features) const;
  const std::vector<DeformableEncoderLayer>& encoder_layers() const { return encoder_layers_; }
  // The encoder's products and the 1×1 convolutions packed for `type`; in bfloat16 the other
  // convolutions too (but the 3×3 ones that have a float32 Winograd kernel, and the mask
  // projection, packed in float32), while norms, the residual stream, the deformable sampling
  // and the outputs stay float32.
  // `tokens`: the token count at stride 4 the packing is chosen for.
  void prepare_products(at::ScalarType type, int64_t tokens);

 private:
  struct ConvNorm {  // Conv2d then GroupNorm(32), the decoder's projections and FPN blocks
    nn::Conv2d conv;
    nn::GroupNorm norm;
    // The FPN's 3×3 convolutions in float32, in both precisions, where oneDNN has a Winograd
    // kernel (else null).
    std::shared_ptr<const kernels::WinogradConv3x3> winograd;
    // A 1×1 convolution's weights as the linear layer over each pixel's channels it is, packed
    // by prepare_products (its input's channels-last pixels are the rows, its bias and float32
    // output come from the product); unpacked, the convolution runs as before.
    nn::Linear pointwise;
    // A new float32 map, channels-last where the convolution writes it so (Winograd's, the 1×1
    // ones): normalized in place, then clamped with `relu`.
    at::Tensor operator()(const at::Tensor& x, bool relu) const;
    // The same map and, where copy_type is bfloat16, a bfloat16 copy of it written by the norm's
    // pass (the next product's input; undefined otherwise).
    std::pair<at::Tensor, at::Tensor> with_copy(const at::Tensor& x, bool relu, at::ScalarType copy_type) const;
  };

  void check_features(const std::vector<at::Tensor>& features) const;

  PixelDecoderConfig config_;
  int fpn_levels_ = 0;                       // finer stages added back after the encoder
  std::vector<ConvNorm> input_projections_;  // per encoder level, coarsest first
  at::Tensor level_embed_;                   // levels×d
  std::vector<DeformableEncoderLayer> encoder_layers_;
  std::vector<ConvNorm> adapters_, fpn_layers_;  // per finer stage, finest first (adapter_1, layer_1, …)
  // A 1×1 convolution, held as the linear layer over channels it is: the FPN's channels-last map
  // is its rows, and the packed product adds the bias (filling a 62 MB output with it first
  // took 13 ms at 800×1216).
  nn::Linear mask_projection_;
};

}  // namespace segkit::mask2former
