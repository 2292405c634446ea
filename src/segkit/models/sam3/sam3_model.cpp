// The public SAM 3 model (segkit/sam3.h) over the parts' assembly (models/sam3/model.h): images,
// phrases and pixel boxes in, plain arrays out.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <utility>

#include "core/heap_reuse.h"
#include "hub/model_locator.h"
#include "models/device.h"
#include "models/registry.h"
#include "models/sam3/family.h"
#include "models/sam3/fpn_neck.h"
#include "models/sam3/model.h"
#include "models/sam3/preprocess.h"
#include "nn/float_array.h"
#include "segkit/error.h"
#include "segkit/machine.h"
#include "segkit/sam3.h"

namespace segkit {

struct Sam3Model::Impl {
  sam3::Model model;
  Precision precision = Precision::Fp32;
  std::string source;
  ModelLocation location;
  int64_t parameter_count = 0;
  std::string fingerprint;
};

namespace {

const char* const kContext = "SAM 3";
constexpr int kPromptsPerBatch = 8;  // the mask logits of a row are Q × 288² floats (66 MB)

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); });
}

std::string box_text(const std::array<float, 4>& b) {
  std::string s;
  for (float v : b) s += (s.empty() ? "" : ",") + std::to_string(static_cast<int64_t>(std::lround(v)));
  return s;
}

void check_prompt(const Sam3Prompt& p, size_t index, int height, int width) {
  const std::string which = "prompt " + std::to_string(index + 1);
  if (is_blank(p.text) && p.boxes.empty()) fail(which, "an empty phrase names nothing; give words or exemplar boxes");
  if (!p.box_labels.empty() && p.box_labels.size() != p.boxes.size())
    fail(which, std::to_string(p.box_labels.size()) + " box labels for " + std::to_string(p.boxes.size()) + " boxes");
  for (size_t i = 0; i < p.boxes.size(); ++i) {
    const auto& b = p.boxes[i];
    const std::string box = which + " box " + std::to_string(i + 1) + " (" + box_text(b) + ")";
    if (!std::all_of(b.begin(), b.end(), [](float v) { return std::isfinite(v); })) fail(box, "not finite");
    if (!(b[0] < b[2] && b[1] < b[3])) fail(box, "x0,y0 must lie above and left of x1,y1");
    if (b[2] <= 0 || b[3] <= 0 || b[0] >= width || b[1] >= height)
      fail(box, "lies outside the " + std::to_string(width) + "×" + std::to_string(height) + " image");
    if (!p.box_labels.empty() && p.box_labels[i] != 0 && p.box_labels[i] != 1)
      fail(box, "label " + std::to_string(p.box_labels[i]) + " (1 positive, 0 negative)");
  }
}

// Sam3Processor's boxes for one prompt: each divided by (W, H), then centre and size
// (1 × N × 4), and their labels (1 × N, 1 where none are given).
std::pair<at::Tensor, at::Tensor> box_tensors(const Sam3Prompt& prompt, int height, int width) {
  const int64_t N = static_cast<int64_t>(prompt.boxes.size());
  at::Tensor boxes = at::empty({1, N, 4}, at::kFloat);
  at::Tensor labels = at::ones({1, N}, at::kLong);
  float* o = boxes.data_ptr<float>();
  const float w = static_cast<float>(width), h = static_cast<float>(height);
  for (int64_t i = 0; i < N; ++i, o += 4) {
    const auto& b = prompt.boxes[i];
    const float x0 = b[0] / w, y0 = b[1] / h, x1 = b[2] / w, y1 = b[3] / h;
    o[0] = (x0 + x1) / 2;
    o[1] = (y0 + y1) / 2;
    o[2] = x1 - x0;
    o[3] = y1 - y0;
    if (!prompt.box_labels.empty()) labels[0][i] = prompt.box_labels[i];
  }
  return {boxes, labels};
}

sam3::TextFeatures row_of(const sam3::TextFeatures& t, int64_t row) {
  if (t.tokens.size(0) == 1) return t;  // one phrase serves every prompt
  return {t.tokens.narrow(0, row, 1), t.mask.narrow(0, row, 1), {}};
}

// Every prompt's row of the raw outputs, in the prompts' order, one prompt at a time: phrases
// batched over one image ran about five times slower than the same phrases one by one (2
// threads, released geometry), and a row never sees another prompt's padded boxes.
sam3::RawOutputs detect_rows(const sam3::Model& m, const sam3::ImageFeatures& image, const sam3::TextFeatures& text,
                             const std::vector<Sam3Prompt>& prompts, int height, int width) {
  const int64_t rows = prompts.empty() ? text.tokens.size(0) : static_cast<int64_t>(prompts.size());
  std::vector<sam3::RawOutputs> parts;
  for (int64_t i = 0; i < rows; ++i) {
    const sam3::TextFeatures t = row_of(text, i);
    if (prompts.empty() || prompts[i].boxes.empty()) {
      parts.push_back(m.detect(image, t));
    } else {
      const auto [boxes, labels] = box_tensors(prompts[i], height, width);
      parts.push_back(m.detect(image, t, boxes, labels));
    }
  }
  if (parts.size() == 1) return parts[0];
  auto merge = [&](at::Tensor sam3::RawOutputs::*field) {
    std::vector<at::Tensor> all;
    for (const sam3::RawOutputs& p : parts) all.push_back(p.*field);
    return at::cat(all);
  };
  sam3::RawOutputs out;
  for (auto field : {&sam3::RawOutputs::pred_logits, &sam3::RawOutputs::pred_boxes, &sam3::RawOutputs::presence_logits,
                     &sam3::RawOutputs::pred_masks, &sam3::RawOutputs::semantic_seg})
    out.*field = merge(field);
  return out;
}

// 1 × C × h × w of each FPN level the vision encoder keeps (all but the last, as Sam3Model).
std::vector<std::vector<int64_t>> level_shapes(const sam3::Sam3Config& c) {
  const std::vector<double>& scales = c.vision.scale_factors;
  const size_t n = scales.size() <= 1 ? scales.size() : scales.size() - 1;
  const double grid = c.vision.backbone.grid_size();
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < n; ++i) {
    const auto side = static_cast<int64_t>(grid * scales[i]);
    shapes.push_back({1, c.vision.fpn_hidden_size, side, side});
  }
  return shapes;
}

std::vector<Sam3Result> to_results(const std::vector<sam3::Instances>& instances, const std::vector<std::string>& phrases,
                                   const std::vector<bool>& truncated, int height, int width) {
  std::vector<Sam3Result> results;
  for (size_t r = 0; r < instances.size(); ++r) {
    const sam3::Instances& in = instances[r];
    Sam3Result out;
    out.text = phrases.size() == 1 ? phrases[0] : phrases[r];
    out.truncated = truncated.size() == 1 ? truncated[0] : (r < truncated.size() && truncated[r]);
    out.height = height;
    out.width = width;
    const int64_t n = in.scores.size(0);
    // Post-processed where the model ran; only what is returned crosses to the host.
    const at::Tensor scores = models::to_host(in.scores), boxes = models::to_host(in.boxes), query = models::to_host(in.query);
    out.scores.assign(scores.data_ptr<float>(), scores.data_ptr<float>() + n);
    for (int64_t i = 0; i < n; ++i) {
      const float* b = boxes.data_ptr<float>() + i * 4;
      out.boxes.push_back({b[0], b[1], b[2], b[3]});
      out.queries.push_back(static_cast<int>(query.data_ptr<int64_t>()[i]));
    }
    if (n > 0) {
      const at::Tensor masks = models::to_host(in.masks.to(at::kBool));
      out.masks.assign(models::bool_bytes(masks), models::bool_bytes(masks) + masks.numel());
    }
    results.push_back(std::move(out));
  }
  return results;
}

// The embedding's arrays as the detector's features (views, no copies), each checked against
// this model: its fingerprint, the levels' shapes and those of any mask skip terms.
sam3::ImageFeatures features_of(const Sam3ImageEmbedding& image, const sam3::Model& model,
                                const std::string& fingerprint) {
  if (!image.model_fingerprint.empty() && image.model_fingerprint != fingerprint)
    fail(kContext, "the image embedding is from another model (fingerprint " + image.model_fingerprint +
                       ", this model's " + fingerprint + ")");
  if (image.original_height <= 0 || image.original_width <= 0) fail(kContext, "the image embedding has no image size");
  const std::vector<std::vector<int64_t>> expected = level_shapes(model.config());
  if (image.levels.size() != expected.size())
    fail(kContext, "the image embedding has " + std::to_string(image.levels.size()) + " levels, this model reads " +
                       std::to_string(expected.size()));
  sam3::ImageFeatures f;
  for (size_t i = 0; i < image.levels.size(); ++i) {
    if (image.levels[i].shape != expected[i])
      fail(kContext, "the image embedding's level " + std::to_string(i) + " is not of this model's shape");
    const at::Tensor level = nn::float_array_view(image.levels[i], "image embedding level " + std::to_string(i), 4);
    f.fpn.push_back(level);
  }
  if (f.fpn.empty()) fail(kContext, "the image embedding has no levels");
  const at::Tensor& grid = f.fpn.back();  // the DETR's level
  f.position = sam3::sine_position_encoding(grid.size(1), grid.size(2), grid.size(3));
  if (!image.mask_skips.empty()) {
    // Stage k convolves level n − 2 − k (the coarsest level only gives the DETR's grid).
    if (image.mask_skips.size() + 1 != image.levels.size())
      fail(kContext, "the image embedding has " + std::to_string(image.mask_skips.size()) + " mask skip terms for " +
                         std::to_string(image.levels.size()) + " levels");
    for (size_t k = 0; k < image.mask_skips.size(); ++k) {
      const std::vector<int64_t>& level = image.levels[image.levels.size() - 2 - k].shape;  // 1 × C × h × w
      if (image.mask_skips[k].shape != std::vector<int64_t>{level[0], level[2], level[3], level[1]})
        fail(kContext, "the image embedding's mask skip term " + std::to_string(k) + " is not of its level's shape");
      f.mask_skips.push_back(
          nn::float_array_view(image.mask_skips[k], "mask skip term " + std::to_string(k), 4).permute({0, 3, 1, 2}));
    }
  }
  return f;
}

}  // namespace

Sam3Model::Sam3Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sam3Model::~Sam3Model() = default;
std::string Sam3Model::family() const { return "sam3"; }
Precision Sam3Model::precision() const { return impl_->precision; }
int Sam3Model::image_size() const { return impl_->model.processor_config().height; }
int Sam3Model::text_length() const { return text::ClipPadding{}.max_length; }
const std::string& Sam3Model::fingerprint() const { return impl_->fingerprint; }

ModelInfo Sam3Model::info() const {
  ModelInfo info;
  info.family = family();
  models::fill_family_fields(info);
  info.architecture = sam3::architecture_name(impl_->model.config(), image_size());
  info.parameter_count = impl_->parameter_count;
  info.precisions = {"fp32", "bf16"};
  models::fill_location_fields(info, impl_->source, impl_->location);
  return info;
}

std::shared_ptr<const Sam3Model> Sam3Model::load(const std::string& source, const LoadOptions& options) {
  models::require_supported_device(options.device);
  c10::InferenceMode guard;
  core::keep_freed_heap_for_reuse();  // the same large temporaries, phrase after phrase
  const ModelLocation files = locate_model(source);
  if (files.config.empty())
    fail(source, "no config.json beside the weights (SAM 3 needs its configuration and tokenizer)");
  auto impl = std::make_unique<Impl>();
  // The fingerprint is of the file's weights, before any move or conversion.
  impl->model = sam3::Model::load(files.config, files.weights, models::torch_device(options.device), &impl->fingerprint);
  impl->source = source;
  impl->location = files;
  const nn::WeightMap& w = impl->model.weights();
  for (const auto& [name, t] : w.all()) impl->parameter_count += t.numel();
  impl->precision = options.precision;
  if (impl->precision == Precision::Auto)  // GPUs segkit runs on (CUDA 12+, Ampere and later) have bf16
    impl->precision = options.device.kind == Device::Kind::Cuda || machine_info().native_bf16 ? Precision::Bf16
                                                                                               : Precision::Fp32;
  if (impl->precision == Precision::Bf16) impl->model.use_bfloat16();
  else impl->model.pack_float32();
  if (options.warn_unused) {
    const std::set<std::string> unused = w.unused();
    if (!unused.empty())
      std::cerr << "segkit: warning: " << files.weights << ": " << unused.size()
                << " tensor(s) not used by the model, e.g. '" << *unused.begin() << "'\n";
  }
  return std::shared_ptr<const Sam3Model>(new Sam3Model(std::move(impl)));
}

std::vector<int64_t> Sam3Model::tokenize(const std::string& phrase, bool* truncated) const {
  text::ClipPadding padding;
  padding.truncate = true;
  const text::ClipBatch batch = impl_->model.tokenizer().encode_padded({phrase}, padding);
  if (truncated) *truncated = batch.any_truncated();
  return batch.input_ids;
}

Sam3ImageEmbedding Sam3Model::encode_image(const Image& image) const {
  c10::InferenceMode guard;
  sam3::ImageFeatures f = impl_->model.encode_image(sam3::preprocess_image(image, impl_->model.processor_config()));
  // Each tensor let go of once copied: the features are not held twice at the peak.
  Sam3ImageEmbedding e;
  for (at::Tensor& level : f.fpn) e.levels.push_back(nn::to_float_array(std::exchange(level, at::Tensor())));
  e.original_height = image.height;
  e.original_width = image.width;
  e.model_fingerprint = impl_->fingerprint;
  return e;
}

void Sam3Model::compute_mask_skips(Sam3ImageEmbedding& embedding) const {
  c10::InferenceMode guard;
  sam3::ImageFeatures f = features_of(embedding, impl_->model, impl_->fingerprint);
  if (!f.mask_skips.empty()) return;
  std::vector<at::Tensor> terms = impl_->model.mask_skips(f);
  for (at::Tensor& term : terms)
    embedding.mask_skips.push_back(nn::to_float_array(std::exchange(term, at::Tensor()).permute({0, 2, 3, 1})));
}

Sam3TextEmbedding Sam3Model::encode_text(const std::vector<std::string>& phrases) const {
  c10::InferenceMode guard;
  text::ClipPadding padding;
  padding.truncate = true;  // as transformers' truncation=True; callers warn with `truncated`
  sam3::TextFeatures t = impl_->model.encode_text(phrases, padding);
  Sam3TextEmbedding e;
  e.phrases = phrases;
  e.tokens = nn::to_float_array(t.tokens);
  const at::Tensor mask = models::to_host(t.mask.to(at::kByte));
  e.mask.assign(mask.data_ptr<uint8_t>(), mask.data_ptr<uint8_t>() + mask.numel());
  e.truncated = t.truncated;
  return e;
}

Sam3RawOutput Sam3Model::detect(const Sam3ImageEmbedding& image, const Sam3TextEmbedding& text,
                                const std::vector<Sam3Prompt>& prompts) const {
  c10::InferenceMode guard;
  sam3::ImageFeatures f = features_of(image, impl_->model, impl_->fingerprint);
  const int64_t rows = text.tokens.shape.size() == 3 ? text.tokens.shape[0] : 0;
  if (rows == 0 || static_cast<int64_t>(text.mask.size()) != rows * text.tokens.shape[1])
    fail(kContext, "the text embedding's tokens and mask do not match");
  if (!prompts.empty() && rows != 1 && rows != static_cast<int64_t>(prompts.size()))
    fail(kContext, std::to_string(prompts.size()) + " prompts for " + std::to_string(rows) + " phrases");
  for (size_t i = 0; i < prompts.size(); ++i) check_prompt(prompts[i], i, image.original_height, image.original_width);
  sam3::TextFeatures t;
  t.tokens = nn::float_array_view(text.tokens, "text embedding", 3);
  t.mask = at::from_blob(const_cast<uint8_t*>(text.mask.data()), {rows, text.tokens.shape[1]}, at::kByte).to(at::kBool);
  // The image's share of the mask decoder once for all the rows (one row gains nothing by it).
  if (f.mask_skips.empty() && std::max<int64_t>(rows, static_cast<int64_t>(prompts.size())) > 1)
    f.mask_skips = impl_->model.mask_skips(f);
  const sam3::RawOutputs out = detect_rows(impl_->model, f, t, prompts, image.original_height, image.original_width);

  Sam3RawOutput raw;
  raw.pred_logits = nn::to_float_array(out.pred_logits);
  raw.pred_boxes = nn::to_float_array(out.pred_boxes);
  raw.presence_logits = nn::to_float_array(out.presence_logits);
  raw.pred_masks = nn::to_float_array(out.pred_masks);
  raw.semantic_seg = nn::to_float_array(out.semantic_seg);
  raw.phrases = text.phrases;
  raw.truncated = text.truncated;
  raw.original_height = image.original_height;
  raw.original_width = image.original_width;
  return raw;
}

std::vector<Sam3Result> Sam3Model::postprocess(const Sam3RawOutput& raw, const Sam3Options& options) const {
  c10::InferenceMode guard;
  sam3::RawOutputs out;
  out.pred_logits = nn::float_array_view(raw.pred_logits, "pred_logits", 2);
  out.pred_boxes = nn::float_array_view(raw.pred_boxes, "pred_boxes", 3);
  if (!raw.presence_logits.data.empty()) out.presence_logits = nn::float_array_view(raw.presence_logits, "presence_logits", 2);
  out.pred_masks = nn::float_array_view(raw.pred_masks, "pred_masks", 4);
  const int64_t rows = out.pred_logits.size(0);
  if (raw.phrases.size() != 1 && static_cast<int64_t>(raw.phrases.size()) != rows)
    fail(kContext, std::to_string(raw.phrases.size()) + " phrases for " + std::to_string(rows) + " rows of outputs");
  const std::vector<sam3::ImageSize> sizes(rows, {raw.original_height, raw.original_width});
  return to_results(sam3::post_process_instance_segmentation(out, options.threshold, options.mask_threshold, sizes),
                    raw.phrases, raw.truncated, raw.original_height, raw.original_width);
}

std::vector<Sam3Result> Sam3Model::segment(const Image& image, const std::vector<Sam3Prompt>& prompts,
                                           const Sam3Options& options) const {
  c10::InferenceMode guard;
  if (prompts.empty()) fail(kContext, "no prompt: give a phrase or exemplar boxes");
  for (size_t i = 0; i < prompts.size(); ++i) check_prompt(prompts[i], i, image.height, image.width);
  const sam3::Model& m = impl_->model;
  sam3::ImageFeatures f = m.encode_image(sam3::preprocess_image(image, m.processor_config()));
  // The image's share of the mask decoder once for all the prompts (one prompt gains nothing by it).
  if (prompts.size() > 1) f.mask_skips = m.mask_skips(f);
  text::ClipPadding padding;
  padding.truncate = true;
  std::vector<Sam3Result> results;
  for (size_t from = 0; from < prompts.size(); from += kPromptsPerBatch) {
    const size_t count = std::min<size_t>(kPromptsPerBatch, prompts.size() - from);
    const std::vector<Sam3Prompt> batch(prompts.begin() + from, prompts.begin() + from + count);
    std::vector<std::string> phrases;
    for (const Sam3Prompt& p : batch) phrases.push_back(p.phrase());
    const sam3::TextFeatures t = m.encode_text(phrases, padding);
    const sam3::RawOutputs out = detect_rows(m, f, t, batch, image.height, image.width);
    const std::vector<sam3::ImageSize> sizes(count, {image.height, image.width});
    std::vector<Sam3Result> part =
        to_results(sam3::post_process_instance_segmentation(out, options.threshold, options.mask_threshold, sizes),
                   phrases, t.truncated, image.height, image.width);
    for (Sam3Result& r : part) results.push_back(std::move(r));
  }
  return results;
}

Sam3Result Sam3Model::segment(const Image& image, const Sam3Prompt& prompt, const Sam3Options& options) const {
  return segment(image, std::vector<Sam3Prompt>{prompt}, options).front();
}

}  // namespace segkit
