// SamPredictor: embed an image once, then decode any number of prompts against it
// (upstream segment_anything/predictor.py).
#include <ATen/ops/from_blob.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include "image/mask_resize.h"
#include "kernels/aten_path.h"
#include "models/device.h"
#include "models/sam/predictor_torch.h"
#include "models/sam/preprocess.h"
#include "models/sam/sam_model_impl.h"
#include "segkit/error.h"
#include "segkit/safetensors.h"

namespace segkit {

struct SamPredictor::State {
  at::Tensor features;  // 1×C×g×g
  int original_h = 0, original_w = 0, input_h = 0, input_w = 0;
};

SamPredictor::SamPredictor(std::shared_ptr<const SamModel> model)
    : model_(std::move(model)), state_(std::make_unique<State>()) {
  if (!model_) throw Error("SamPredictor: no model");
}
SamPredictor::~SamPredictor() = default;
SamPredictor::SamPredictor(SamPredictor&&) noexcept = default;
SamPredictor& SamPredictor::operator=(SamPredictor&&) noexcept = default;

const SamModel& SamPredictor::model() const { return *model_; }
bool SamPredictor::has_image() const { return state_->features.defined(); }
std::array<int, 2> SamPredictor::original_size() const { return {state_->original_h, state_->original_w}; }
std::array<int, 2> SamPredictor::input_size() const { return {state_->input_h, state_->input_w}; }

void SamPredictor::set_image(const Image& image) {
  if (image.width <= 0 || image.height <= 0) throw Error("set_image: empty image");
  c10::InferenceMode guard;
  const auto& m = sam::Internals::of(*model_);
  Image resized = sam::resize_longest_side(image, m.config.image_size);
  at::Tensor input = sam::normalize_and_pad(resized, m.config);
  state_->features = m.image_encoder.forward(models::to_device(input, models::torch_device(m.device)));
  state_->original_h = image.height;
  state_->original_w = image.width;
  state_->input_h = resized.height;
  state_->input_w = resized.width;
}

void SamPredictor::set_embedding(const SamEmbedding& e) {
  const SamConfig& c = model_->config();
  if (!e.model_fingerprint.empty() && e.model_fingerprint != model_->fingerprint())
    throw Error("embedding was computed by another model (fingerprint " + e.model_fingerprint + ", this model " +
                model_->fingerprint() + ")");
  if (e.channels != c.out_chans || e.grid != c.embedding_size())
    throw Error("embedding is " + std::to_string(e.channels) + "x" + std::to_string(e.grid) + "x" + std::to_string(e.grid) +
                ", this model expects " + std::to_string(c.out_chans) + "x" + std::to_string(c.embedding_size()) + "x" +
                std::to_string(c.embedding_size()));
  if (e.original_height <= 0 || e.original_width <= 0 || e.input_height <= 0 || e.input_width <= 0 ||
      e.input_height > c.image_size || e.input_width > c.image_size)
    throw Error("embedding has invalid image sizes");
  if (e.data.size() != static_cast<size_t>(e.channels) * e.grid * e.grid) throw Error("embedding data has the wrong size");
  state_->features = at::from_blob(const_cast<float*>(e.data.data()), {1, e.channels, e.grid, e.grid}, at::kFloat)
                         .to(models::torch_device(model_->device()), /*non_blocking=*/false, /*copy=*/true);
  state_->original_h = e.original_height;
  state_->original_w = e.original_width;
  state_->input_h = e.input_height;
  state_->input_w = e.input_width;
}

SamEmbedding SamPredictor::embedding() const {
  if (!has_image()) throw Error("no image set");
  SamEmbedding e;
  at::Tensor f = models::to_host(state_->features);
  e.channels = static_cast<int>(f.size(1));
  e.grid = static_cast<int>(f.size(2));
  e.data.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  e.original_height = state_->original_h;
  e.original_width = state_->original_w;
  e.input_height = state_->input_h;
  e.input_width = state_->input_w;
  e.model_fingerprint = model_->fingerprint();
  return e;
}

int SamPrediction::best() const {
  int b = 0;
  for (int i = 1; i < num_masks; ++i)
    if (iou_predictions[i] > iou_predictions[b]) b = i;
  return b;
}

namespace sam {

at::Tensor apply_coords(const at::Tensor& coords, std::array<int, 2> original_size, int target_length) {
  auto [new_h, new_w] = preprocess_shape(original_size[0], original_size[1], target_length);
  // Upstream scales in float64 (numpy) and only then converts to float32.
  at::Tensor c = coords.to(at::kDouble).clone();
  c.select(-1, 0).mul_(static_cast<double>(new_w) / original_size[1]);
  c.select(-1, 1).mul_(static_cast<double>(new_h) / original_size[0]);
  return c.to(at::kFloat);
}

at::Tensor postprocess_masks(const at::Tensor& low_res, int image_size, std::array<int, 2> input_size,
                             std::array<int, 2> original_size) {
  if (kernels::hand_written_path({&low_res})) {
    at::Tensor composed = resize_mask_logits(low_res, image_size, input_size, original_size);
    if (composed.defined()) return composed;
  }
  const bool planes = low_res.dim() == 3;
  at::Tensor x = planes ? low_res.unsqueeze(0) : low_res;
  x = at::upsample_bilinear2d(x, {image_size, image_size}, false);
  x = x.slice(2, 0, input_size[0]).slice(3, 0, input_size[1]);
  x = at::upsample_bilinear2d(x, {original_size[0], original_size[1]}, false);
  return planes ? x.squeeze(0) : x;
}

std::pair<at::Tensor, at::Tensor> decode_low_res(const SamPredictor& predictor, const at::Tensor& point_coords,
                                                 const at::Tensor& point_labels, const at::Tensor& boxes,
                                                 const at::Tensor& mask_input, bool multimask_output,
                                                 double masks_if_iou_above) {
  if (!predictor.has_image()) throw Error("predict: no image set");
  c10::InferenceMode guard;
  const auto& m = sam::Internals::of(predictor.model());
  const at::Tensor& features = sam::Internals::of(predictor).features;
  const at::Device device = features.device();  // prompts are made on the host
  auto [sparse, dense] = m.prompt_encoder.forward(models::to_device(point_coords, device), models::to_device(point_labels, device),
                                                  models::to_device(boxes, device), models::to_device(mask_input, device));
  return m.mask_decoder.forward(features, m.dense_pe, sparse, dense, multimask_output, masks_if_iou_above);
}

TorchPrediction predict_torch(const SamPredictor& predictor, const at::Tensor& point_coords, const at::Tensor& point_labels,
                              const at::Tensor& boxes, const at::Tensor& mask_input, bool multimask_output, bool return_logits) {
  c10::InferenceMode guard;
  auto [low_res, iou] = decode_low_res(predictor, point_coords, point_labels, boxes, mask_input, multimask_output);
  const auto& m = sam::Internals::of(predictor.model());
  at::Tensor masks = postprocess_masks(low_res, m.config.image_size, predictor.input_size(), predictor.original_size());
  if (!return_logits) masks = masks > m.config.mask_threshold;
  return {masks, iou, low_res};
}

}  // namespace sam

namespace {

void validate_prompt(const SamPrompt& p, const SamConfig& c, int height, int width) {
  if (p.labels.size() != p.points.size())
    throw Error("prompt has " + std::to_string(p.points.size()) + " points but " + std::to_string(p.labels.size()) + " labels");
  for (size_t i = 0; i < p.points.size(); ++i) {
    const float x = p.points[i][0], y = p.points[i][1];
    if (!std::isfinite(x) || !std::isfinite(y)) throw Error("point " + std::to_string(i + 1) + " is not a finite number");
    if (x < 0 || y < 0 || x > width || y > height) {
      std::ostringstream msg_stream;
      msg_stream << "point (" << x << ", " << y << ") is outside the " << width << "x" << height << " image";
      std::string msg = msg_stream.str();
      if (x >= 0 && y >= 0 && x <= height && y <= width) msg += " (x and y swapped?)";
      throw Error(msg);
    }
    if (p.labels[i] != 0 && p.labels[i] != 1) throw Error("point label must be 1 (foreground) or 0 (background)");
  }
  if (p.box) {
    const auto& b = *p.box;
    for (float v : b)
      if (!std::isfinite(v)) throw Error("box coordinates must be finite numbers");
    if (b[2] < b[0] || b[3] < b[1]) throw Error("box must be x0,y0,x1,y1 with x1 >= x0 and y1 >= y0");
    // A box reaching past an edge is a normal drag; one that misses the image is a mistake.
    if (b[2] < 0 || b[3] < 0 || b[0] > width || b[1] > height) {
      std::ostringstream msg;
      msg << "box (" << b[0] << ", " << b[1] << ", " << b[2] << ", " << b[3] << ") lies outside the " << width << "x"
          << height << " image";
      throw Error(msg.str());
    }
  }
  const size_t low = static_cast<size_t>(c.low_res_size());
  if (!p.mask_input.empty() && p.mask_input.size() != low * low)
    throw Error("mask input must be " + std::to_string(low) + "x" + std::to_string(low) + " low-res logits, got " +
                std::to_string(p.mask_input.size()) + " values");
}

}  // namespace

std::vector<SamPrediction> SamPredictor::predict_batch(const std::vector<SamPrompt>& prompts, bool return_logits) const {
  if (!has_image()) throw Error("predict: no image set");
  if (prompts.empty()) return {};
  const SamConfig& c = model_->config();
  const auto& s = *state_;
  const SamPrompt& first = prompts.front();
  for (const auto& p : prompts) {
    validate_prompt(p, c, s.original_h, s.original_w);
    if (p.points.size() != first.points.size() || p.box.has_value() != first.box.has_value() ||
        p.mask_input.empty() != first.mask_input.empty() || p.multimask != first.multimask)
      throw Error("batched prompts must all have the same number of points, box, mask input and multimask setting");
  }
  c10::InferenceMode guard;
  const int64_t B = static_cast<int64_t>(prompts.size()), N = static_cast<int64_t>(first.points.size());
  const int low = c.low_res_size();
  at::Tensor coords, labels, boxes, masks;
  if (N > 0) {
    std::vector<double> xy;
    std::vector<int32_t> lab;
    for (const auto& p : prompts)
      for (size_t i = 0; i < p.points.size(); ++i) {
        xy.push_back(p.points[i][0]);
        xy.push_back(p.points[i][1]);
        lab.push_back(p.labels[i]);
      }
    coords = sam::apply_coords(at::from_blob(xy.data(), {B, N, 2}, at::kDouble), original_size(), c.image_size);
    labels = at::from_blob(lab.data(), {B, N}, at::kInt).clone();
  }
  if (first.box) {
    std::vector<double> bx;
    for (const auto& p : prompts) bx.insert(bx.end(), p.box->begin(), p.box->end());
    boxes = sam::apply_coords(at::from_blob(bx.data(), {B, 2, 2}, at::kDouble), original_size(), c.image_size).reshape({B, 4});
  }
  if (!first.mask_input.empty()) {
    std::vector<float> mi;
    for (const auto& p : prompts) mi.insert(mi.end(), p.mask_input.begin(), p.mask_input.end());
    masks = at::from_blob(mi.data(), {B, 1, low, low}, at::kFloat).clone();
  }
  sam::TorchPrediction tp = sam::predict_torch(*this, coords, labels, boxes, masks, first.multimask, true);

  // Thresholded where the model ran; only what is returned crosses to the host.
  const at::Tensor binary = models::to_host(tp.masks > c.mask_threshold);
  const at::Tensor iou = models::to_host(tp.iou_predictions), lr = models::to_host(tp.low_res_logits);
  const at::Tensor logits = return_logits ? models::to_host(tp.masks) : at::Tensor();
  std::vector<SamPrediction> out(prompts.size());
  const int K = static_cast<int>(binary.size(1));
  const size_t plane = static_cast<size_t>(s.original_h) * s.original_w, low_plane = static_cast<size_t>(low) * low;
  for (int64_t b = 0; b < B; ++b) {
    SamPrediction& p = out[b];
    p.num_masks = K;
    p.height = s.original_h;
    p.width = s.original_w;
    p.low_res = low;
    const uint8_t* mb = models::bool_bytes(binary) + b * K * plane;
    p.masks.assign(mb, mb + K * plane);
    const float* ib = iou.data_ptr<float>() + b * K;
    p.iou_predictions.assign(ib, ib + K);
    const float* lb = lr.data_ptr<float>() + b * K * low_plane;
    p.low_res_logits.assign(lb, lb + K * low_plane);
    if (return_logits) {
      const float* fb = logits.data_ptr<float>() + b * K * plane;
      p.mask_logits.assign(fb, fb + K * plane);
    }
  }
  return out;
}

SamPrediction SamPredictor::predict(const SamPrompt& prompt, bool return_logits) const {
  return predict_batch({prompt}, return_logits).front();
}

void SamEmbedding::save(const std::string& path) const {
  write_safetensors(path, {{"image_embeddings", DType::F32, {channels, grid, grid}, data.data()}},
                    {{"format", "segkit-sam-embedding"},
                     {"original_size", std::to_string(original_height) + "," + std::to_string(original_width)},
                     {"input_size", std::to_string(input_height) + "," + std::to_string(input_width)},
                     {"model_fingerprint", model_fingerprint}});
}

SamEmbedding SamEmbedding::load(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  if (!f->contains("image_embeddings")) fail(path, "no tensor 'image_embeddings' (not an embedding file?)");
  const TensorView& v = f->get("image_embeddings");
  if (v.shape.size() != 3 || v.shape[1] != v.shape[2] || v.dtype != DType::F32)
    fail(path, "tensor 'image_embeddings' must be float32 C×g×g");
  auto parse_pair = [&](const char* key, int& a, int& b) {
    auto it = f->metadata().find(key);
    if (it == f->metadata().end() || std::sscanf(it->second.c_str(), "%d,%d", &a, &b) != 2 || a <= 0 || b <= 0)
      fail(path, std::string("missing or invalid metadata '") + key + "'");
  };
  SamEmbedding e;
  e.channels = static_cast<int>(v.shape[0]);
  e.grid = static_cast<int>(v.shape[1]);
  e.data = f->to_float("image_embeddings");
  parse_pair("original_size", e.original_height, e.original_width);
  parse_pair("input_size", e.input_height, e.input_width);
  auto fp = f->metadata().find("model_fingerprint");
  if (fp != f->metadata().end()) e.model_fingerprint = fp->second;
  return e;
}

}  // namespace segkit
