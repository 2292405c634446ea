#pragma once
// SAM's mask decoder: a two-way transformer between prompt tokens and image tokens, then
// transposed-conv upscaling, hypernetwork MLPs per mask token and an IoU head
// (upstream mask_decoder.py and transformer.py).
#include <ATen/core/Tensor.h>

#include <limits>
#include <utility>
#include <vector>

#include "models/sam/decoder_attention.h"
#include "models/sam/layers.h"
#include "segkit/sam.h"

namespace segkit::sam {

struct TwoWayBlock {
  Attention self_attn, token_to_image, image_to_token;
  LayerNorm norm1, norm2, norm3, norm4;
  Linear lin1, lin2;
  bool skip_first_layer_pe = false;
  // Updates (queries, keys) in place.
  void forward(at::Tensor& queries, at::Tensor& keys, const at::Tensor& query_pe, const at::Tensor& key_pe) const;
};

struct TwoWayTransformer {
  std::vector<TwoWayBlock> layers;
  Attention final_attn;
  LayerNorm norm_final;
  static TwoWayTransformer load(const WeightMap& w, const SamConfig& c);
  // image: B×C×h×w, image_pe: B×C×h×w, tokens: B×T×C → (the first `outputs` tokens out,
  // B×min(outputs, T)×C; image tokens B×hw×C).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image, const at::Tensor& image_pe, const at::Tensor& tokens,
                                            int64_t outputs = std::numeric_limits<int64_t>::max()) const;
};

// A kernel-2, stride-2 transposed convolution on channels-last pixels is one matrix product:
// C_in → 2×2×C_out (the new 2×2 sub-pixel axes just before the channels).
struct SubpixelLinear {
  at::Tensor weight, bias;  // (2·2·C_out)×C_in, 2·2·C_out
  int64_t out_channels = 0;
  SubpixelLinear() = default;
  explicit SubpixelLinear(const ConvTranspose2d& conv);
};

struct MaskDecoder {
  TwoWayTransformer transformer;
  at::Tensor iou_token, mask_tokens;  // 1×C, M×C
  SubpixelLinear upscale1, upscale2;  // rearranged once at load
  LayerNorm2d upscale_norm;
  std::vector<Mlp> hypernetworks;
  Mlp iou_head;

  static MaskDecoder load(const WeightMap& w, const SamConfig& c);
  int num_mask_tokens() const { return static_cast<int>(mask_tokens.size(0)); }
  // image_embeddings: 1×C×g×g (shared by all B prompts) → (masks B×K×4g×4g, iou B×K).
  // The IoU predictions come before the masks' upscaling, the larger part of the work: a caller
  // that keeps only masks predicted above a threshold (the automatic mask generator) passes it
  // as masks_if_iou_above, and prompts with no IoU prediction above it get NaN masks.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe,
                                            const at::Tensor& sparse, const at::Tensor& dense, bool multimask,
                                            double masks_if_iou_above = -std::numeric_limits<double>::infinity()) const;
  // Image tokens B×h×w×C and hypernetwork outputs B×K×C/8 → mask logits B×K×4h×4w; prompts
  // whose entry of `wanted` is false (when it is given) are left NaN.
  at::Tensor upscale_masks(const at::Tensor& grid, const at::Tensor& hyper_in, const std::vector<bool>& wanted = {}) const;

 private:
  // One chunk of prompts; src is the image embedding plus the dense prompt embedding (batch 1
  // when shared by every prompt).
  std::pair<at::Tensor, at::Tensor> decode(const at::Tensor& src, const at::Tensor& image_pe, const at::Tensor& sparse,
                                           bool multimask, double masks_if_iou_above) const;
};

}  // namespace segkit::sam
