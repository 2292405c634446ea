#pragma once
// SAM 3's image model assembled from its parts, as transformers 5.17's Sam3Model runs it: the
// vision encoder once per image, the text encoder once per phrase batch, then the detector (the
// prompt, DETR, scoring and the mask decoder) giving transformers' raw outputs. The public
// Sam3Model (segkit/sam3.h) wraps it.
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "models/sam3/checkpoint.h"
#include "models/sam3/config.h"
#include "models/sam3/detr.h"
#include "models/sam3/mask_decoder.h"
#include "models/sam3/postprocess.h"
#include "models/sam3/text_encoder.h"
#include "models/sam3/vision_encoder.h"
#include "text/clip_tokenizer.h"

namespace segkit::sam3 {

struct ImageFeatures {  // what the detector needs of a batch of images
  std::vector<at::Tensor> fpn;  // [×4, ×2, ×1] levels, B × C × h × w
  // The sine position encoding of the DETR's level (the last): the only one the detector reads,
  // so the finer levels' (106 MB of float32 at 1008 px) are not kept.
  at::Tensor position;
  // MaskDecoder::skip_terms of fpn: the mask decoder's per-image work, done once for any number
  // of phrases. Empty: each detect convolves the levels itself (as transformers does).
  std::vector<at::Tensor> mask_skips;
};

struct TextFeatures {
  at::Tensor tokens;            // B × 32 × C: the projected text, every position
  at::Tensor mask;              // B × 32 bool, nonzero = a real token
  std::vector<bool> truncated;  // per phrase: cut to 32 tokens
};

class Model {
 public:
  // `folder` holds config.json, model.safetensors, the tokenizer (tokenizer.json, or vocab.json
  // + merges.txt) and optionally processor_config.json. Weights plain or under
  // "detector_model." (sam3_video). Error naming the file for anything missing or wrong,
  // including a tokenizer whose vocabulary differs from the text embedding's.
  static Model load(const std::string& folder);
  // The same with the files named: `weights` (.safetensors or a torch.save'd state dict) and
  // `config` (config.json); the tokenizer and processor_config.json are read beside config.json.
  // The layers are built on `device` (the weights moved there); `fingerprint`, where given,
  // receives nn::weights_fingerprint of the file's weights, taken on the host before the move.
  static Model load(const std::string& config, const std::string& weights, const at::Device& device = at::kCPU,
                    std::string* fingerprint = nullptr);

  // Inputs may be on any device (they go to the model's); outputs stay on the model's device.
  // pixel_values B × 3 × S × S float32, as preprocess.h gives them. Without the mask decoder's
  // skip terms: add them with mask_skips where several phrases will be detected.
  ImageFeatures encode_image(const at::Tensor& pixel_values) const;
  // MaskDecoder::skip_terms of image.fpn: 61 G multiply-adds once (1008 px), after which each
  // phrase's mask decoder runs 27 instead of 61 G.
  std::vector<at::Tensor> mask_skips(const ImageFeatures& image) const;
  // Phrases tokenized as Sam3Processor does (padded to 32 with <|endoftext|>). A longer phrase
  // is an Error unless padding.truncate (then cut as transformers' truncation=True does).
  TextFeatures encode_text(const std::vector<std::string>& phrases, const text::ClipPadding& padding = {}) const;
  // Images and phrases of equal batch, or one of them of batch 1 (used for every row of the
  // other). boxes: optional B × N × 4 exemplar boxes (cx, cy, w, h) normalized to the image,
  // box_labels B × N (1 positive, 0 negative, −10 padding). Transformers' pred_logits,
  // pred_boxes, presence_logits, pred_masks and semantic_seg.
  RawOutputs detect(const ImageFeatures& image, const TextFeatures& text, const at::Tensor& boxes = {},
                    const at::Tensor& box_labels = {}) const;
  // Sam3Processor.post_process_instance_segmentation.
  std::vector<Instances> postprocess(const RawOutputs& out, double threshold = 0.3, double mask_threshold = 0.5,
                                     const std::vector<ImageSize>& target_sizes = {}) const;

  // The vision encoder's, the text encoder's, the DETR encoder's and the mask decoder's
  // convolutions in bfloat16 (ViTBackbone::prepare_products, TextEncoder, DetrEncoder and
  // MaskDecoder::use_bfloat16); the DETR decoder stays float32.
  void use_bfloat16() {
    vision_.backbone.prepare_products(at::kBFloat16);
    text_.use_bfloat16(config_.text.max_position_embeddings);
    const int64_t grid = config_.vision.backbone.grid_size();
    detr_.use_bfloat16(grid * grid);
    mask_decoder_.use_bfloat16();
  }

  // In float32 the ViT's linear layers are packed, with bias, GELU and residual sum inside the
  // product (nn::Linear::pack): about a tenth faster on its shapes than the plain GEMM.
  void pack_float32() { vision_.backbone.prepare_products(at::kFloat); }

  const Sam3Config& config() const { return config_; }
  const ProcessorConfig& processor_config() const { return processor_; }
  const text::ClipTokenizer& tokenizer() const { return *tokenizer_; }
  const nn::WeightMap& weights() const { return weights_.weights; }
  const at::Device& device() const { return device_; }

 private:
  Sam3Config config_;
  ProcessorConfig processor_;
  std::optional<text::ClipTokenizer> tokenizer_;  // optional only because it has no empty state
  LoadedWeights weights_;                         // the parts' tensors may view these files
  at::Device device_ = at::kCPU;                  // where the weights are and the parts run
  VisionEncoder vision_;
  TextEncoder text_;
  Detr detr_;
  MaskDecoder mask_decoder_;
};

}  // namespace segkit::sam3
