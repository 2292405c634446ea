#include "models/mask2former/pixel_decoder.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>

#include <algorithm>
#include <tuple>

#include "kernels/cpu/add_upsampled_bilinear.h"
#include "kernels/cpu/group_norm.h"
#include "kernels/cpu/matmul.h"
#include "models/device.h"
#include "models/mask2former/position_embedding.h"
#include "segkit/error.h"

namespace segkit::mask2former {

namespace {
constexpr int64_t kGroups = 32;  // every GroupNorm of the decoder
constexpr double kNormEps = 1e-5;
constexpr const char* kName = "Mask2Former pixel decoder";

// A convolution in its weights' type (float32 or bfloat16) of a float32 map, back to float32.
// 1×1 convolutions are one product over the channels, read in place: several times faster than
// ATen's convolution on these shapes. Larger kernels run on channels-last maps (oneDNN's
// kernels for them are faster, three times in bfloat16) and their output stays channels-last.
at::Tensor convolve(const nn::Conv2d& conv, const at::Tensor& x) {
  const at::Tensor& w = conv.weight;
  const at::ScalarType type = w.scalar_type();
  if (w.size(2) != 1 || w.size(3) != 1 || conv.stride != 1 || conv.padding != 0)
    return conv(x.to(type).contiguous(at::MemoryFormat::ChannelsLast)).to(at::kFloat);
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), out_channels = w.size(0);
  const at::Tensor matrix = w.view({out_channels, w.size(1)});
  const at::Tensor flat = x.reshape({batch, x.size(1), height * width});
  at::Tensor y;
  if (type == at::kFloat) {
    y = at::empty({batch, out_channels, height * width}, x.options());
    if (conv.bias.defined()) y.copy_(conv.bias.view({1, -1, 1}).expand_as(y));
    kernels::matmul_into(y, matrix.expand({batch, -1, -1}), flat, conv.bias.defined() ? 1.0 : 0.0);
  } else {
    const at::Tensor in = flat.to(type);
    y = at::empty({batch, out_channels, height * width}, in.options());
    for (int64_t b = 0; b < batch; ++b) {  // 2-d products: ATen's batched bfloat16 product is slow
      at::Tensor out = y[b];
      at::mm_out(out, matrix, in[b]);
    }
    if (conv.bias.defined()) y.add_(conv.bias.view({1, -1, 1}));
    y = y.to(at::kFloat);
  }
  return y.view({batch, out_channels, height, width});
}

bool is_pointwise(const nn::Conv2d& conv) {
  return conv.weight.size(2) == 1 && conv.weight.size(3) == 1 && conv.stride == 1 && conv.padding == 0;
}

// A 1×1 convolution (no stride, no padding) whose output is channels-last, from a map in any
// layout: per image one product pixels × C_in · C_in × C_out, reading the map in place.
at::Tensor convolve_to_channels_last(const nn::Conv2d& conv, const at::Tensor& x) {
  const at::Tensor& w = conv.weight;
  const at::ScalarType type = w.scalar_type();
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), out_channels = w.size(0);
  const at::Tensor matrix = w.view({out_channels, w.size(1)}).t();
  at::Tensor y = at::empty({batch, height * width, out_channels}, x.options());
  if (type == at::kFloat) {
    if (conv.bias.defined()) y.copy_(conv.bias.view({1, 1, -1}).expand_as(y));
    kernels::matmul_into(y, x.flatten(2).transpose(1, 2), matrix.expand({batch, -1, -1}), conv.bias.defined() ? 1.0 : 0.0);
  } else {
    for (int64_t b = 0; b < batch; ++b) {
      at::Tensor product = at::mm(x[b].flatten(1).t().to(type), matrix);
      if (conv.bias.defined()) product.add_(conv.bias);
      y[b].copy_(product);
    }
  }
  return y.view({batch, height, width, out_channels}).permute({0, 3, 1, 2});
}

// A packed 1×1 convolution: the map's pixels are the rows (read in place from a channels-last
// map), the output channels-last float32.
at::Tensor project_pixels(const nn::Linear& projection, const at::Tensor& x) {
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  const at::Tensor rows = x.permute({0, 2, 3, 1}).reshape({-1, x.size(1)});
  return projection.float32(rows.to(projection.packed->type()))
      .view({batch, height, width, -1})
      .permute({0, 3, 1, 2});
}

}  // namespace

at::Tensor PixelDecoder::ConvNorm::operator()(const at::Tensor& x, bool relu) const {
  return with_copy(x, relu, at::ScalarType::Undefined).first;
}

std::pair<at::Tensor, at::Tensor> PixelDecoder::ConvNorm::with_copy(const at::Tensor& x, bool relu,
                                                                    at::ScalarType copy_type) const {
  const at::Tensor y = winograd && winograd->supports(x) ? (*winograd)(x)
                       : pointwise.packed                ? project_pixels(pointwise, x)
                       : is_pointwise(conv)              ? convolve_to_channels_last(conv, x)
                                                         : convolve(conv, x);
  at::Tensor copy = kernels::group_norm_(y, norm.groups, norm.weight, norm.bias, norm.eps, relu,
                                         copy_type == at::kBFloat16 ? copy_type : at::ScalarType::Undefined);
  return {y, std::move(copy)};
}

PixelDecoder PixelDecoder::load(const nn::WeightMap& w, const std::string& prefix, const PixelDecoderConfig& c) {
  const int64_t d = c.hidden_dim;
  const int stages = static_cast<int>(c.in_channels.size());
  if (c.levels < 1 || c.points < 1 || stages < c.levels)
    fail(kName, std::to_string(c.levels) + " encoder levels need at least as many backbone stages, got " +
                    std::to_string(stages));
  if (d <= 0 || d % kGroups != 0)
    fail(kName, "hidden size " + std::to_string(d) + " is not a multiple of the 32 GroupNorm groups");
  if (c.encoder_layers < 0) fail(kName, "negative number of encoder layers");
  // Stage i has stride 4·2^i; the FPN adds finer stages back until common_stride is reached.
  const int64_t finest_encoder_stride = int64_t(4) << (stages - c.levels);
  int fpn_levels = 0;
  for (int64_t s = finest_encoder_stride; s > c.common_stride; s /= 2) ++fpn_levels;
  if (c.common_stride < 4 || (finest_encoder_stride >> fpn_levels) != c.common_stride)
    fail(kName, "common stride " + std::to_string(c.common_stride) + " is not a power of two between 4 and " +
                    std::to_string(finest_encoder_stride));

  PixelDecoder p;
  p.config_ = c;
  p.fpn_levels_ = fpn_levels;
  for (int l = 0; l < c.levels; ++l) {
    const std::string name = prefix + "input_projections." + std::to_string(l);
    const int64_t in = c.in_channels[stages - 1 - l];  // level 0 is the coarsest stage
    p.input_projections_.push_back({load_conv2d(w, name + ".0", in, d, 1, /*with_bias=*/true),
                                    load_group_norm(w, name + ".1", d, kGroups, kNormEps), nullptr, {}});
  }
  p.level_embed_ = w.get(prefix + "level_embed", {c.levels, d});
  for (int i = 0; i < c.encoder_layers; ++i)
    p.encoder_layers_.push_back(DeformableEncoderLayer::load(w, prefix + "encoder.layers." + std::to_string(i) + ".",
                                                             d, c.encoder_feedforward_dim, c.heads, c.levels,
                                                             c.points));
  for (int i = 0; i < fpn_levels; ++i) {
    const std::string n = std::to_string(i + 1);
    p.adapters_.push_back({load_conv2d(w, prefix + "adapter_" + n + ".0", c.in_channels[i], d, 1, false),
                           load_group_norm(w, prefix + "adapter_" + n + ".1", d, kGroups, kNormEps), nullptr, {}});
    p.fpn_layers_.push_back({load_conv2d(w, prefix + "layer_" + n + ".0", d, d, 3, false),
                             load_group_norm(w, prefix + "layer_" + n + ".1", d, kGroups, kNormEps), nullptr, {}});
    const nn::Conv2d& conv = p.fpn_layers_.back().conv;
    if (conv.stride == 1 && conv.padding == 1)
      p.fpn_layers_.back().winograd = kernels::WinogradConv3x3::prepare(conv.weight, conv.bias);
    // The layout its channels-last input wants (no reorder per call).
    p.fpn_layers_.back().conv.weight = p.fpn_layers_.back().conv.weight.contiguous(at::MemoryFormat::ChannelsLast);
  }
  p.mask_projection_ = nn::Linear::of_convolution(load_conv2d(w, prefix + "mask_projection", d, c.mask_feature_size, 1, true));
  return p;
}

void PixelDecoder::check_features(const std::vector<at::Tensor>& features) const {
  const auto& channels = config_.in_channels;
  if (features.size() != channels.size())
    fail(kName, "expects " + std::to_string(channels.size()) + " feature maps, got " + std::to_string(features.size()));
  for (size_t i = 0; i < features.size(); ++i) {
    const at::Tensor& f = features[i];
    if (f.dim() != 4 || f.scalar_type() != at::kFloat || f.size(1) != channels[i] || f.size(0) != features[0].size(0))
      fail(kName, "feature map " + std::to_string(i) + " must be float32 B×" + std::to_string(channels[i]) +
                      "×H×W with the batch size of the others");
  }
}

PixelDecoder::EncoderInput PixelDecoder::encoder_input(const std::vector<at::Tensor>& features) const {
  check_features(features);
  const int64_t d = config_.hidden_dim;
  const size_t stages = features.size();
  EncoderInput in;
  std::vector<at::Tensor> flat, position;
  std::vector<float> reference;
  for (int l = 0; l < config_.levels; ++l) {
    const at::Tensor projected = input_projections_[l](features[stages - 1 - l], /*relu=*/false);
    const int64_t height = projected.size(2), width = projected.size(3);
    in.projections.push_back(projected);
    in.levels.push_back({height, width});
    flat.push_back(projected.flatten(2).transpose(1, 2));
    // The level embedding goes into the position (queries only), not into the states.
    const at::Tensor sine = models::to_device(sine_position_embedding(height, width, d / 2), projected.device());
    position.push_back(sine.flatten(2).transpose(1, 2) + level_embed_.select(0, l).view({1, 1, d}));
    // Pixel centres in float32 as transformers' linspace(0.5, size − 0.5) / size gives them.
    for (int64_t i = 0; i < height; ++i)
      for (int64_t j = 0; j < width; ++j) {
        reference.push_back((static_cast<float>(j) + 0.5f) / static_cast<float>(width));
        reference.push_back((static_cast<float>(i) + 0.5f) / static_cast<float>(height));
      }
  }
  in.states = at::cat(flat, 1);
  in.position = at::cat(position, 1);
  // Made on the host (copied in one memcpy: ATen's copy hands 160 kB to the thread pool),
  // then to where the states are.
  at::Tensor points = at::empty({int64_t(reference.size() / 2), 2}, at::kFloat);
  std::copy(reference.begin(), reference.end(), points.data_ptr<float>());
  in.reference_points = models::to_device(points, in.states.device());
  return in;
}

PixelDecoderOutput PixelDecoder::operator()(const std::vector<at::Tensor>& features) const {
  const EncoderInput in = encoder_input(features);
  // The layers update the concatenated levels in place (`in` is this call's own).
  const at::Tensor& states = in.states;
  at::Tensor compute_copy;
  for (const DeformableEncoderLayer& layer : encoder_layers_)
    layer.update_(states, compute_copy, in.position, in.reference_points, in.levels);

  PixelDecoderOutput out;
  const int64_t batch = states.size(0);
  int64_t start = 0;
  for (const kernels::LevelShape& s : in.levels) {
    const int64_t size = s.height * s.width;
    // B × d × h × w views of the states, channels-last: the decoder reads them as tokens again.
    const at::Tensor level = states.slice(1, start, start + size);
    out.multi_scale.push_back(level.view({batch, s.height, s.width, -1}).permute({0, 3, 1, 2}));
    start += size;
  }

  // FPN: each finer stage, coarsest first, adds its lateral projection to the bilinearly
  // upsampled map so far (transformers' comment says nearest, its code is bilinear). Its maps
  // are channels-last, as its 3×3 convolutions want them (and the norms and the upsampling
  // run in place on them); the mask projection reads the last in place.
  // In bfloat16 the last norm also writes the mask projection's input.
  const at::ScalarType projection_type = mask_projection_.type();
  at::Tensor y = out.multi_scale.back().contiguous(at::MemoryFormat::ChannelsLast), y_copy;
  for (int i = fpn_levels_ - 1; i >= 0; --i) {
    const at::Tensor lateral = adapters_[i](features[i], /*relu=*/false);
    kernels::add_upsampled_bilinear_(lateral, y);
    std::tie(y, y_copy) = fpn_layers_[i].with_copy(lateral, /*relu=*/true, i == 0 ? projection_type : at::kFloat);
  }
  // The mask projection over the map's pixels as rows (a view of the channels-last map), its
  // float32 output channels-last too: the decoder reads it in place.
  const at::Tensor input = y_copy.defined() ? y_copy : y.to(projection_type);
  const int64_t batch_size = y.size(0), channels = y.size(1), height = y.size(2), width = y.size(3);
  y = at::Tensor();  // in bf16 the copy is all the projection reads: 62 MB less at its peak (800×1216)
  out.mask_features = mask_projection_.float32(input.permute({0, 2, 3, 1}).reshape({-1, channels}))
                          .view({batch_size, height, width, -1})
                          .permute({0, 3, 1, 2});
  return out;
}

void PixelDecoder::prepare_products(at::ScalarType type, int64_t tokens) {
  // The encoder runs over the strides 8, 16 and 32 together: 1/4 + 1/16 + 1/64 of stride 4's tokens.
  for (DeformableEncoderLayer& layer : encoder_layers_) layer.prepare_products(type, tokens * 21 / 64);
  mask_projection_.prepare(type, tokens);
  // The 1×1 convolutions over the backbone's stages (stage i has 4^-i of stride 4's tokens).
  const int stages = static_cast<int>(config_.in_channels.size());
  auto pack_pointwise = [&](ConvNorm& c, int stage) {
    const nn::Conv2d& conv = c.conv;
    if (!is_pointwise(conv) || c.pointwise.packed) return;
    c.pointwise = nn::Linear::of_convolution(conv);
    c.pointwise.prepare(type, std::max<int64_t>(tokens >> (2 * stage), 1));
    if (!c.pointwise.packed) c.pointwise = nn::Linear();  // the convolution's own path then
  };
  for (int l = 0; l < config_.levels; ++l) pack_pointwise(input_projections_[l], stages - 1 - l);
  for (int i = 0; i < fpn_levels_; ++i) pack_pointwise(adapters_[i], i);
  if (type != at::kBFloat16) return;
  auto convert = [](nn::Conv2d& conv) {
    conv.weight = conv.weight.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    if (conv.bias.defined()) conv.bias = conv.bias.to(at::kBFloat16);
  };
  // The FPN's 3×3 convolutions keep their float32 Winograd kernel where there is one: faster
  // than oneDNN's bfloat16 direct convolution (the whole decoder 880 -> 800 ms at 800×1216 on
  // Zen 4), at float32's accuracy.
  for (std::vector<ConvNorm>* group : {&input_projections_, &adapters_, &fpn_layers_})
    for (ConvNorm& c : *group)
      if (!c.pointwise.packed) convert(c.conv);
}

}  // namespace segkit::mask2former
