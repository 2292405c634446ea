#pragma once
// Segment Anything (SAM) in native C++.
//
// Two levels, as upstream:
//   auto model = segkit::SamModel::load("facebook/sam-vit-base");   // HF folder, repo id or .pth
//   segkit::SamPredictor predictor(model);
//   predictor.set_image(segkit::load_image("photo.jpg"));           // runs the image encoder once
//   segkit::SamPrompt prompt;  prompt.points = {{500, 375}};  prompt.labels = {1};
//   segkit::SamPrediction p = predictor.predict(prompt);              // many prompts, one embedding
//
// Coordinates are in original-image pixels (x, y), as upstream's SamPredictor.predict takes them.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "segkit/image.h"
#include "segkit/model.h"

namespace segkit {

namespace sam {
struct Internals;  // the library's own access to the models' internals
}

struct SamConfig {
  // Image encoder (ViT).
  int image_size = 1024;
  int patch_size = 16;
  int encoder_dim = 768;
  int encoder_depth = 12;
  int encoder_heads = 12;
  int window_size = 14;
  std::vector<int> global_attn_indexes{2, 5, 8, 11};
  int out_chans = 256;  // = prompt/decoder width
  // Prompt encoder / mask decoder.
  int mask_in_chans = 16;
  int decoder_depth = 2;
  int decoder_heads = 8;
  int decoder_mlp_dim = 2048;
  int num_multimask_outputs = 3;
  int iou_head_depth = 3;
  int iou_head_hidden_dim = 256;
  // Preprocessing (upstream: ImageNet mean/std in 0..255).
  std::array<float, 3> pixel_mean{123.675f, 116.28f, 103.53f};
  std::array<float, 3> pixel_std{58.395f, 57.12f, 57.375f};
  float mask_threshold = 0.0f;

  int embedding_size() const { return image_size / patch_size; }  // 64 for SAM
  int low_res_size() const { return 4 * embedding_size(); }       // 256 for SAM
  std::string describe() const;                                    // one line, for logs and errors
};

class SamModel : public Model {
 public:
  // `source`: a Hugging Face model folder, a repo id ("facebook/sam-vit-base") found in the local
  // Hugging Face cache, a .safetensors file, or an official .pth/.pt/.bin state dict.
  // Precision applies to the image encoder.
  static std::shared_ptr<const SamModel> load(const std::string& source, const LoadOptions& options = {});
  ~SamModel() override;
  std::string family() const override;  // "sam"
  ModelInfo info() const override;
  const SamConfig& config() const;
  const std::string& source() const;
  Precision precision() const;  // as resolved at load: Fp32 or Bf16, never Auto
  Device device() const;
  // A short fingerprint of the weights, stored with embeddings so that one model's embedding is
  // never decoded by another.
  const std::string& fingerprint() const;

 private:
  friend struct sam::Internals;
  struct Impl;
  explicit SamModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct SamPrompt {
  std::vector<std::array<float, 2>> points;  // original-image pixels (x, y)
  std::vector<int> labels;                   // 1 foreground, 0 background; one per point
  std::optional<std::array<float, 4>> box;   // x0, y0, x1, y1 in original-image pixels
  std::vector<float> mask_input;             // empty, or low_res_size² logits from an earlier prediction
  bool multimask = true;
};

struct SamPrediction {
  int num_masks = 0, height = 0, width = 0, low_res = 0;
  std::vector<uint8_t> masks;           // num_masks × height × width, 0/1
  std::vector<float> iou_predictions;   // num_masks
  std::vector<float> low_res_logits;    // num_masks × low_res × low_res
  std::vector<float> mask_logits;       // num_masks × height × width, only if asked for
  int best() const;                     // index of the highest predicted IoU
};

// The image encoder's output, reusable for any number of prompts and storable on disk.
struct SamEmbedding {
  int channels = 0, grid = 0;            // channels × grid × grid
  std::vector<float> data;
  int original_height = 0, original_width = 0;
  int input_height = 0, input_width = 0;  // after the longest-side resize
  std::string model_fingerprint;
  void save(const std::string& path) const;  // safetensors, atomically
  static SamEmbedding load(const std::string& path);
};

class SamPredictor {
 public:
  explicit SamPredictor(std::shared_ptr<const SamModel> model);
  ~SamPredictor();
  SamPredictor(SamPredictor&&) noexcept;
  SamPredictor& operator=(SamPredictor&&) noexcept;

  void set_image(const Image& image);               // runs the encoder
  void set_embedding(const SamEmbedding& embedding);  // Error if from another model
  SamEmbedding embedding() const;
  bool has_image() const;

  // Error on inconsistent prompts (label count, box order, points far outside the image,
  // mask_input of the wrong size).
  SamPrediction predict(const SamPrompt& prompt, bool return_logits = false) const;
  // Several prompts of the same shape (same point count, all with or without box/mask) in
  // one decoder call.
  std::vector<SamPrediction> predict_batch(const std::vector<SamPrompt>& prompts, bool return_logits = false) const;

  const SamModel& model() const;
  std::array<int, 2> original_size() const;  // height, width
  std::array<int, 2> input_size() const;     // height, width after resize

 private:
  friend struct sam::Internals;
  struct State;
  std::shared_ptr<const SamModel> model_;
  std::unique_ptr<State> state_;
};

}  // namespace segkit
