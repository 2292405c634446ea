#pragma once
// Mask2Former (Cheng et al. 2022): one model for semantic, instance and panoptic segmentation,
// loaded from Hugging Face checkpoints and computed as transformers computes it.
//
//   auto model = segkit::Mask2FormerModel::load("facebook/mask2former-swin-tiny-coco-panoptic");
//   segkit::Segmentation s = model->segment(segkit::load_image("street.jpg"), segkit::SegmentationTask::Panoptic);
//   // s.ids: height × width segment ids; s.segments: label, score, ... of each id
//
// Or stage by stage: preprocess → backbone → pixel decoder → transformer decoder → postprocess.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "segkit/float_array.h"
#include "segkit/image.h"
#include "segkit/model.h"

namespace segkit {

namespace mask2former {
struct Internals;  // the library's own access to the model's internals
}

enum class SegmentationTask { Semantic, Instance, Panoptic };
SegmentationTask parse_segmentation_task(const std::string& name);  // "semantic", ...; Error otherwise
const char* segmentation_task_name(SegmentationTask task);

// transformers' Mask2FormerImageProcessor post-processing parameters, same names and defaults.
struct SegmentationOptions {
  float threshold = 0.5f;                    // instance, panoptic: minimum score of a kept query
  float mask_threshold = 0.5f;               // panoptic: mask probability counted as the query's area
  float overlap_mask_area_threshold = 0.8f;  // panoptic: kept area / own area needed to keep a query
  std::vector<int> label_ids_to_fuse;        // panoptic: labels whose segments merge into one (stuff)
  // panoptic: true numbers segments exactly as transformers, including its id collisions after
  // a fused label (docs/mask2former.md); false gives every segment its own id, listed once, as
  // COCO needs.
  bool transformers_ids = true;
};

struct Segment {
  int id = 0;              // its value in Segmentation::ids
  int label_id = 0;        // class index into Mask2FormerModel::labels()
  float score = 0.0f;      // rounded to 6 decimals as transformers does; 0 for semantic classes
  bool was_fused = false;  // panoptic: label_id is one of label_ids_to_fuse
};

// One image's result at its original size.
//   semantic: ids are class indices, segments list the classes present (id = label_id);
//   instance: ids are segment ids from 0 in score-threshold order, -1 where no instance;
//   panoptic: ids are segment ids from 1, 0 where no segment (-1 everywhere when nothing is kept).
// Ids, order and quirks are transformers' (docs/mask2former.md); the CLI's COCO files renumber.
struct Segmentation {
  SegmentationTask task = SegmentationTask::Semantic;
  int height = 0, width = 0;
  std::vector<int32_t> ids;  // height × width, row-major
  std::vector<Segment> segments;
  // instance: each segment's own height × width 0/1 mask, in segments' order (overlaps kept:
  // ids shows later instances over earlier ones, as transformers does). Empty for the others.
  std::vector<uint8_t> instance_masks;
};

// The processor's output for one image.
struct Mask2FormerInput {
  FloatArray pixel_values;  // 1 × 3 × H × W, normalised, H and W multiples of size_divisor
  int original_height = 0, original_width = 0;
};

// The Swin backbone's four maps, 1 × C·2^s × H/2^(s+2) × W/2^(s+2) (strides 4, 8, 16, 32).
struct Mask2FormerFeatures {
  std::vector<FloatArray> maps;
  int original_height = 0, original_width = 0;
};

// The pixel decoder's output: the deformable encoder's levels (1/32, 1/16, 1/8; 1 × d × h × w)
// and the per-pixel mask features (1 × d × H/4 × W/4).
struct Mask2FormerPixelFeatures {
  std::vector<FloatArray> levels;
  FloatArray mask_features;
  int original_height = 0, original_width = 0;
};

struct Mask2FormerOutput {
  FloatArray class_logits;  // queries × (labels + 1); the last column is "no object"
  FloatArray mask_logits;   // queries × H/4 × W/4
  int original_height = 0, original_width = 0;
};

struct Mask2FormerConfig {
  // Swin backbone
  int embed_dim = 96;
  std::vector<int> depths{2, 2, 6, 2};
  std::vector<int> num_heads{3, 6, 12, 24};
  int window_size = 7;
  int patch_size = 4;
  double mlp_ratio = 4.0;
  double layer_norm_eps = 1e-5;
  // pixel decoder and transformer decoder
  int hidden_dim = 256;
  int mask_feature_size = 256;
  int encoder_layers = 6;
  int encoder_feedforward_dim = 1024;
  int decoder_layers = 10;  // masked-attention layers + 1
  int num_attention_heads = 8;
  int dim_feedforward = 2048;
  int num_queries = 100;
  int common_stride = 4;
  std::vector<std::string> labels;  // id2label, by id; its size is the number of classes

  int num_labels() const { return static_cast<int>(labels.size()); }
  std::string describe() const;  // one line
};

// The preprocessor_config.json settings that shape the input.
struct Mask2FormerProcessorConfig {
  int height = 384, width = 384;        // fixed size ("size": {"height", "width"}), when > 0
  int shortest_edge = 0, longest_edge = 0;  // else "size": {"shortest_edge", "longest_edge"}
  int size_divisor = 32;
  bool do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::vector<float> image_mean{0.485f, 0.456f, 0.406f};
  std::vector<float> image_std{0.229f, 0.224f, 0.225f};
};

class Mask2FormerModel : public Model {
 public:
  // A Hugging Face folder (config.json, model.safetensors, preprocessor_config.json), a repo id
  // in the local cache, or what `segkit pull` fetched. Error naming the file for a missing or
  // mis-shaped tensor, a config it cannot run, or a precision or device it does not support.
  static std::shared_ptr<const Mask2FormerModel> load(const std::string& source, const LoadOptions& options = {});
  ~Mask2FormerModel() override;
  std::string family() const override;  // "mask2former"
  ModelInfo info() const override;
  const Mask2FormerConfig& config() const;
  const Mask2FormerProcessorConfig& processor() const;
  const std::vector<std::string>& labels() const;  // class names by label id
  Precision precision() const;                     // as resolved at load: Fp32 or Bf16

  // Everything in one call.
  Segmentation segment(const Image& image, SegmentationTask task, const SegmentationOptions& options = {}) const;

  // The stages: preprocess, then forward (the three network parts at once, or one by one).
  Mask2FormerInput preprocess(const Image& image) const;
  Mask2FormerOutput forward(const Mask2FormerInput& input) const;
  Mask2FormerFeatures backbone(const Mask2FormerInput& input) const;
  Mask2FormerPixelFeatures pixel_decoder(const Mask2FormerFeatures& features) const;
  Mask2FormerOutput transformer_decoder(const Mask2FormerPixelFeatures& features) const;
  Segmentation postprocess(const Mask2FormerOutput& output, SegmentationTask task,
                           const SegmentationOptions& options = {}) const;

 private:
  friend struct mask2former::Internals;
  struct Impl;
  explicit Mask2FormerModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
