#pragma once
// SAM 3's geometry (exemplar box) encoder as transformers 5.17 runs it (Sam3GeometryEncoder):
// each box becomes a token summing a projection of its coordinates, an ROI-aligned 7 × 7 pool of
// the layer-normed ×1 FPN level, a projection of its centre's sine encoding and size, and its
// label's embedding; a CLS token follows each image's real boxes; pre-norm layers then attend to
// the boxes and to the (un-normed) FPN level. The tokens join the text in the prompt
// (concat_prompt).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/blocks.h"
#include "models/sam3/config.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct GeometryEncoderOutput {
  at::Tensor tokens;  // B × (N + 1) × C
  at::Tensor mask;    // B × (N + 1) bool: each image's real boxes and its CLS token
};

class GeometryEncoder {
 public:
  // Weights under `prefix` + "geometry_encoder.…", every shape checked against `c`.
  static GeometryEncoder load(const nn::WeightMap& w, const std::string& prefix, const GeometryEncoderConfig& c);

  // features B × C × H × W (the ×1 FPN level) and pos its position encoding (B or 1 × C × H × W);
  // boxes B × N × 4 (cx, cy, w, h) normalized to the image; labels B × N integers: 1 positive,
  // 0 negative, −10 padding (the processor's value). Float32.
  GeometryEncoderOutput forward(const at::Tensor& features, const at::Tensor& pos, const at::Tensor& boxes,
                                const at::Tensor& labels) const;

  const GeometryEncoderConfig& config() const { return config_; }

 private:
  GeometryEncoderConfig config_;
  at::Tensor label_embed_, cls_embed_;
  nn::Linear direct_project_, pool_project_, pos_project_, final_proj_;
  nn::LayerNorm vision_norm_, prompt_norm_, output_norm_;
  std::vector<EncoderLayer> layers_;
};

// torchvision.ops.roi_align(features, boxes, output_size, spatial_scale=1, sampling_ratio=-1,
// aligned=False) for features B × C × H × W (float32) and boxes B × N × 4 (x0, y0, x1, y1 in
// feature cells) → (B·N) × C × size × size.
at::Tensor roi_align(const at::Tensor& features, const at::Tensor& boxes, int64_t output_size);

// The prompt as Sam3Model builds it: text tokens (padding included), then the geometry tokens, with
// the masks concatenated alike; a text of batch 1 is repeated for a geometry batch above 1.
// Undefined geometry: the text alone. Masks nonzero = real; an undefined text mask means all real.
struct Prompt {
  at::Tensor tokens, mask;
};
Prompt concat_prompt(const at::Tensor& text, const at::Tensor& text_mask, const GeometryEncoderOutput& geometry);

}  // namespace segkit::sam3
