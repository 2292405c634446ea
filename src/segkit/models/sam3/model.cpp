#include "models/sam3/model.h"

#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/json_read.h"
#include "models/device.h"
#include "nn/weight_fingerprint.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// One image for several phrases (or one phrase for several images) runs as a batch of the larger.
int64_t joint_batch(int64_t images, int64_t phrases) {
  if (images != phrases && images != 1 && phrases != 1)
    fail("SAM 3", std::to_string(images) + " images and " + std::to_string(phrases) +
                      " phrases: give as many of each, or one of either");
  return std::max(images, phrases);
}

at::Tensor expand_batch(const at::Tensor& t, int64_t batch) {
  if (t.size(0) == batch) return t;
  std::vector<int64_t> sizes = t.sizes().vec();
  sizes[0] = batch;
  return t.expand(sizes).contiguous();
}

}  // namespace

Model Model::load(const std::string& folder) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(folder) / "config.json").string();
  const std::string weights_path = (fs::path(folder) / "model.safetensors").string();
  if (!fs::is_regular_file(config_path)) fail(folder, "no config.json (not a SAM 3 model folder)");
  if (!fs::is_regular_file(weights_path)) fail(folder, "no model.safetensors");
  return load(config_path, weights_path);
}

Model Model::load(const std::string& config_path, const std::string& weights_path, const at::Device& device,
                  std::string* fingerprint) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(config_path).parent_path();
  const std::string folder = parent.empty() ? std::string(".") : parent.string();
  const std::string processor_path = (fs::path(folder) / "processor_config.json").string();

  Model m;
  m.config_ = parse_config(read_json_file(config_path, JsonLimits::config()), config_path);
  // A missing processor_config.json means Sam3ImageProcessor's defaults, as transformers' has.
  m.processor_ = fs::is_regular_file(processor_path)
                     ? parse_processor_config(read_json_file(processor_path, JsonLimits::config()), processor_path)
                     : parse_processor_config(nlohmann::json(), "");
  m.tokenizer_.emplace(text::ClipTokenizer::from_folder(folder));
  m.tokenizer_->require_vocab_size(m.config_.text.vocab_size, config_path + " text_config");
  if (m.config_.text.max_position_embeddings < text::ClipPadding{}.max_length)
    fail(config_path, "text_config \"max_position_embeddings\" " +
                          std::to_string(m.config_.text.max_position_embeddings) + " is below the " +
                          std::to_string(text::ClipPadding{}.max_length) + " tokens SAM 3's processor pads to");

  m.weights_ = read_weights(weights_path, m.config_);
  if (fingerprint) *fingerprint = nn::weights_fingerprint(m.weights_.weights);  // reads the values: on the host
  m.device_ = device;
  m.weights_.move_to(device);
  const nn::WeightMap& w = m.weights_.weights;  // prefix already stripped
  m.vision_ = VisionEncoder::load(w, m.config_);
  m.text_ = TextEncoder::load(w, "", m.config_.text);
  m.detr_ = Detr::load(w, "", m.config_.detr());
  const MaskDecoderConfig& md = m.config_.mask_decoder;
  m.mask_decoder_ = MaskDecoder::load(w, "", md.hidden_size, md.num_attention_heads, md.num_upsampling_stages);
  return m;
}

ImageFeatures Model::encode_image(const at::Tensor& pixel_values) const {
  VisionFeatures v = vision_(models::to_device(pixel_values, device_));
  return {std::move(v.fpn), std::move(v.fpn_position.back()), {}};
}

std::vector<at::Tensor> Model::mask_skips(const ImageFeatures& image) const {
  std::vector<at::Tensor> levels;
  for (const at::Tensor& level : image.fpn) levels.push_back(models::to_device(level, device_));
  return mask_decoder_.skip_terms(levels);
}

TextFeatures Model::encode_text(const std::vector<std::string>& phrases, const text::ClipPadding& padding) const {
  if (phrases.empty()) fail("SAM 3", "no phrase to encode");
  text::ClipBatch batch = tokenizer_->encode_padded(phrases, padding);
  const auto options = at::TensorOptions().dtype(at::kLong);
  // Tokenized on the host, copied to the model's device.
  const at::Tensor ids = at::from_blob(batch.input_ids.data(), {batch.batch, batch.length}, options)
                             .to(device_, /*non_blocking=*/false, /*copy=*/true);
  const at::Tensor mask = at::from_blob(batch.attention_mask.data(), {batch.batch, batch.length}, options)
                              .to(device_, /*non_blocking=*/false, /*copy=*/true);
  TextEncoderOutput out = text_.forward(ids, mask);
  return {std::move(out.token_features), std::move(out.mask), std::move(batch.truncated)};
}

RawOutputs Model::detect(const ImageFeatures& image, const TextFeatures& text, const at::Tensor& boxes,
                         const at::Tensor& box_labels) const {
  if (image.fpn.empty() || !image.position.defined())
    fail("SAM 3", "image features without FPN levels or position (use encode_image)");
  if (!text.tokens.defined() || text.tokens.dim() != 3) fail("SAM 3", "text features must be batch × length × width");
  const int64_t batch = joint_batch(image.fpn.back().size(0), text.tokens.size(0));

  // Features and prompts made elsewhere (arrays of the public API, boxes) go to the model's device.
  auto here = [&](const at::Tensor& t) { return models::to_device(t, device_); };
  std::vector<at::Tensor> levels;
  for (const at::Tensor& level : image.fpn) levels.push_back(here(level));
  // Sam3Model runs the DETR on the ×1 level, the last one the vision encoder keeps.
  DetrInputs in;
  in.features = expand_batch(levels.back(), batch);
  in.pos = here(image.position);
  in.text = here(text.tokens);
  in.text_mask = here(text.mask);
  in.boxes = here(boxes);
  in.box_labels = here(box_labels);
  const DetrOutput d = detr_.forward(in);
  std::vector<at::Tensor> skips;
  for (const at::Tensor& term : image.mask_skips) skips.push_back(here(term));
  const MaskDecoderOutput masks = mask_decoder_.forward(d.queries, levels, d.encoded.memory, d.prompt, skips);

  RawOutputs out;
  out.pred_logits = d.pred_logits;
  out.pred_boxes = d.pred_boxes;
  out.presence_logits = d.presence_logits;
  out.pred_masks = masks.pred_masks;
  out.semantic_seg = masks.semantic_seg;
  return out;
}

std::vector<Instances> Model::postprocess(const RawOutputs& out, double threshold, double mask_threshold,
                                          const std::vector<ImageSize>& target_sizes) const {
  return post_process_instance_segmentation(out, threshold, mask_threshold, target_sizes);
}

}  // namespace segkit::sam3
