#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/heap_reuse.h"
#include "core/json_read.h"
#include "models/mask2former/checkpoint.h"
#include "models/mask2former/config.h"
#include "models/mask2former/family.h"
#include "models/mask2former/hf_postprocess.h"
#include "models/mask2former/model_impl.h"
#include "models/mask2former/preprocess.h"
#include "models/device.h"
#include "models/registry.h"
#include "nn/float_array.h"
#include "segkit/error.h"
#include "segkit/machine.h"

namespace segkit {

namespace {

FloatArray to_array(const at::Tensor& t) { return nn::to_float_array(t); }  // on the host

at::Tensor as_tensor(const FloatArray& a, const char* what, size_t dims) {
  return nn::float_array_view(a, std::string("mask2former: ") + what, dims);
}

mask2former::PixelDecoderConfig pixel_decoder_config(const Mask2FormerConfig& c) {
  mask2former::PixelDecoderConfig p;
  p.hidden_dim = c.hidden_dim;
  p.mask_feature_size = c.mask_feature_size;
  p.encoder_layers = c.encoder_layers;
  p.encoder_feedforward_dim = c.encoder_feedforward_dim;
  p.heads = c.num_attention_heads;
  for (int s = 0; s < 4; ++s) p.in_channels.push_back(static_cast<int64_t>(c.embed_dim) << s);
  p.common_stride = c.common_stride;
  return p;
}

// Readies the products for `type` (bfloat16: converted), their weights packed for the token
// counts of the processor's input size (a guess for shortest-edge resizing; other counts work too).
void prepare_products(at::ScalarType type, const Mask2FormerConfig& c, const Mask2FormerProcessorConfig& p,
                      mask2former::SwinBackbone& backbone, mask2former::PixelDecoder& pixel_decoder,
                      mask2former::TransformerDecoder& transformer_decoder) {
  const int64_t height = p.height > 0 ? p.height : std::max(p.shortest_edge, 384);
  const int64_t width = p.width > 0 ? p.width : height * 4 / 3;
  const int64_t patch_tokens = (height / c.patch_size) * (width / c.patch_size);
  backbone.prepare_products(type, patch_tokens);
  pixel_decoder.prepare_products(type, patch_tokens);
  transformer_decoder.prepare_products(type, patch_tokens / 4);
}

}  // namespace

Mask2FormerModel::Mask2FormerModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mask2FormerModel::~Mask2FormerModel() = default;
std::string Mask2FormerModel::family() const { return "mask2former"; }
const Mask2FormerConfig& Mask2FormerModel::config() const { return impl_->config; }
const Mask2FormerProcessorConfig& Mask2FormerModel::processor() const { return impl_->processor; }
const std::vector<std::string>& Mask2FormerModel::labels() const { return impl_->config.labels; }
Precision Mask2FormerModel::precision() const { return impl_->precision; }

ModelInfo Mask2FormerModel::info() const {
  ModelInfo info;
  info.family = family();
  models::fill_family_fields(info);
  info.architecture = mask2former::architecture_name(impl_->config);
  info.parameter_count = impl_->parameter_count;
  info.precisions = {"fp32", "bf16"};
  models::fill_location_fields(info, impl_->source, impl_->location);
  return info;
}

std::shared_ptr<const Mask2FormerModel> Mask2FormerModel::load(const std::string& source, const LoadOptions& options) {
  models::require_supported_device(options.device);
  c10::InferenceMode guard;
  // The forward allocates the same large temporaries stage after stage, image after image:
  // reused memory instead of fresh pages (page faults were a fifth of the time).
  core::keep_freed_heap_for_reuse();
  const ModelLocation files = locate_model(source);
  if (files.config.empty()) fail(source, "no config.json beside the weights (Mask2Former needs its configuration)");
  auto impl = std::make_unique<Impl>();
  impl->config = mask2former::parse_config(read_json_file(files.config, JsonLimits::config()), files.config);
  impl->processor = files.preprocessor_config.empty()
                        ? Mask2FormerProcessorConfig{}
                        : mask2former::parse_processor_config(
                              read_json_file(files.preprocessor_config, JsonLimits::config()), files.preprocessor_config);
  mask2former::LoadedWeights loaded = mask2former::read_weights(files, impl->config);
  impl->precision = options.precision;
  if (impl->precision == Precision::Auto)  // GPUs segkit runs on (CUDA 12+, Ampere and later) have bf16
    impl->precision = options.device.kind == Device::Kind::Cuda || machine_info().native_bf16 ? Precision::Bf16
                                                                                               : Precision::Fp32;
  impl->device = models::torch_device(options.device);
  if (!impl->device.is_cpu()) {
    loaded.move_to(impl->device);  // the layers are built from the weights where they will run
  } else if (impl->precision == Precision::Bf16) {
    // bfloat16 replaces most weights with converted copies: owned float32 copies now let the
    // file's mapping go at the end of the load, instead of keeping it resident beside them
    // (190 MB for Swin-T); the copies that get converted are freed for the activations.
    for (const auto& [name, t] : loaded.weights.all()) loaded.weights.insert(name, t.clone());
    loaded.backing_files.clear();
  }
  const nn::WeightMap& w = loaded.weights;
  impl->source = source;
  impl->location = files;
  for (const auto& [name, t] : w.all())
    if (!mask2former::is_buffer(name)) impl->parameter_count += t.numel();
  impl->backbone = mask2former::SwinBackbone::load(w, "model.pixel_level_module.encoder.", impl->config);
  impl->pixel_decoder =
      mask2former::PixelDecoder::load(w, "model.pixel_level_module.decoder.", pixel_decoder_config(impl->config));
  impl->transformer_decoder = mask2former::TransformerDecoder::load(w, impl->config);
  prepare_products(impl->precision == Precision::Bf16 ? at::kBFloat16 : at::kFloat, impl->config, impl->processor,
                   impl->backbone, impl->pixel_decoder, impl->transformer_decoder);
  impl->backing_files = std::move(loaded.backing_files);
  if (options.warn_unused) {
    std::set<std::string> unused = w.unused();
    for (auto it = unused.begin(); it != unused.end();) it = mask2former::is_unused_by_design(*it) ? unused.erase(it) : std::next(it);
    if (!unused.empty())
      std::cerr << "segkit: warning: " << files.weights << ": " << unused.size() << " tensor(s) not used by the model, e.g. '"
                << *unused.begin() << "'\n";
  }
  return std::shared_ptr<const Mask2FormerModel>(new Mask2FormerModel(std::move(impl)));
}

namespace mask2former {

RawOutput Internals::run(const Mask2FormerModel& model, const at::Tensor& pixel_values, bool all_layers) {
  c10::InferenceMode guard;
  const Mask2FormerModel::Impl& m = of(model);
  RawOutput out;
  out.pixel_values = models::to_device(pixel_values, m.device);  // prepared on the host
  out.backbone_features = m.backbone(out.pixel_values);
  out.pixel_decoder = m.pixel_decoder(out.backbone_features);
  out.decoder = m.transformer_decoder(out.pixel_decoder.multi_scale, out.pixel_decoder.mask_features, all_layers);
  return out;
}

}  // namespace mask2former

Mask2FormerInput Mask2FormerModel::preprocess(const Image& image) const {
  c10::InferenceMode guard;
  Mask2FormerInput in;
  in.pixel_values = to_array(mask2former::preprocess_image(image, impl_->processor));
  in.original_height = image.height;
  in.original_width = image.width;
  return in;
}

namespace {

// pixel_values must be 1 × 3 × H × W with H and W positive multiples of 32.
at::Tensor pixel_tensor(const Mask2FormerInput& input) {
  const at::Tensor x = as_tensor(input.pixel_values, "pixel_values", 4);
  if (x.size(0) != 1 || x.size(1) != 3 || x.size(2) % 32 || x.size(3) % 32 || x.size(2) == 0 || x.size(3) == 0)
    throw Error("mask2former: pixel_values must be 1 × 3 × H × W with H and W positive multiples of 32");
  return x;
}

Mask2FormerOutput output_of(const mask2former::DecoderPrediction& last, int height, int width) {
  Mask2FormerOutput out;
  out.class_logits = to_array(last.class_logits[0]);
  out.mask_logits = to_array(last.mask_logits[0]);
  out.original_height = height;
  out.original_width = width;
  return out;
}

}  // namespace

Mask2FormerOutput Mask2FormerModel::forward(const Mask2FormerInput& input) const {
  c10::InferenceMode guard;
  const mask2former::RawOutput raw = mask2former::Internals::run(*this, pixel_tensor(input));
  return output_of(raw.last(), input.original_height, input.original_width);
}

Mask2FormerFeatures Mask2FormerModel::backbone(const Mask2FormerInput& input) const {
  c10::InferenceMode guard;
  Mask2FormerFeatures f;
  for (const at::Tensor& map : impl_->backbone(models::to_device(pixel_tensor(input), impl_->device)))
    f.maps.push_back(to_array(map));
  f.original_height = input.original_height;
  f.original_width = input.original_width;
  return f;
}

Mask2FormerPixelFeatures Mask2FormerModel::pixel_decoder(const Mask2FormerFeatures& features) const {
  c10::InferenceMode guard;
  if (features.maps.size() != 4) throw Error("mask2former: the pixel decoder takes the backbone's 4 maps");
  std::vector<at::Tensor> maps;
  for (const FloatArray& m : features.maps)
    maps.push_back(models::to_device(as_tensor(m, "backbone map", 4), impl_->device));
  const mask2former::PixelDecoderOutput out = impl_->pixel_decoder(maps);
  Mask2FormerPixelFeatures p;
  for (const at::Tensor& level : out.multi_scale) p.levels.push_back(to_array(level));
  p.mask_features = to_array(out.mask_features);
  p.original_height = features.original_height;
  p.original_width = features.original_width;
  return p;
}

Mask2FormerOutput Mask2FormerModel::transformer_decoder(const Mask2FormerPixelFeatures& features) const {
  c10::InferenceMode guard;
  if (features.levels.size() != 3) throw Error("mask2former: the transformer decoder takes the pixel decoder's 3 levels");
  std::vector<at::Tensor> levels;
  for (const FloatArray& l : features.levels)
    levels.push_back(models::to_device(as_tensor(l, "pixel decoder level", 4), impl_->device));
  const at::Tensor mask_features = models::to_device(as_tensor(features.mask_features, "mask features", 4), impl_->device);
  const int64_t d = impl_->config.hidden_dim;
  for (const at::Tensor& t : levels)
    if (t.size(0) != 1 || t.size(1) != d) throw Error("mask2former: pixel decoder levels must be 1 × hidden_dim × h × w");
  if (mask_features.size(0) != 1 || mask_features.size(1) != impl_->config.mask_feature_size)
    throw Error("mask2former: mask features must be 1 × mask_feature_size × h × w");
  const mask2former::DecoderOutput out = impl_->transformer_decoder(levels, mask_features);
  return output_of(out.predictions.back(), features.original_height, features.original_width);
}

Segmentation Mask2FormerModel::postprocess(const Mask2FormerOutput& output, SegmentationTask task,
                                           const SegmentationOptions& options) const {
  c10::InferenceMode guard;
  const at::Tensor classes = as_tensor(output.class_logits, "class_logits", 2);
  const at::Tensor masks = as_tensor(output.mask_logits, "mask_logits", 3);
  const int h = output.original_height, w = output.original_width;
  switch (task) {
    case SegmentationTask::Semantic: return mask2former::semantic_segmentation(classes, masks, h, w);
    case SegmentationTask::Instance: return mask2former::instance_segmentation(classes, masks, options, h, w);
    case SegmentationTask::Panoptic: return mask2former::panoptic_segmentation(classes, masks, options, h, w);
  }
  throw Error("mask2former: unknown task");
}

Segmentation Mask2FormerModel::segment(const Image& image, SegmentationTask task, const SegmentationOptions& options) const {
  return postprocess(forward(preprocess(image)), task, options);
}

}  // namespace segkit
