#pragma once
// SAM's mask decoder: a two-way transformer between prompt tokens and image tokens, then
// transposed-conv upscaling, hypernetwork MLPs per mask token and an IoU head
// (upstream mask_decoder.py and transformer.py).
#include <ATen/core/Tensor.h>

#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "models/sam/decoder_attention.h"
#include "nn/layers.h"
#include "segkit/sam.h"

namespace segkit::sam {

class FactoredTransformer;

struct TwoWayBlock {
  Attention self_attn, token_to_image, image_to_token;
  nn::LayerNorm norm1, norm2, norm3, norm4;
  nn::Linear lin1, lin2;
  bool skip_first_layer_pe = false;
  // The steps on the prompt tokens alone: self-attention (+ norm1), and the MLP (+ norm3).
  void attend_among_tokens(at::Tensor& queries, const at::Tensor& query_pe) const;
  void mlp(at::Tensor& queries) const;
  // Updates (queries, keys) in place.
  void forward(at::Tensor& queries, at::Tensor& keys, const at::Tensor& query_pe, const at::Tensor& key_pe) const;
};

// Tokens `which` (all when empty) of B×T×C tokens, in that order.
at::Tensor select_tokens(const at::Tensor& tokens, const std::vector<int64_t>& which);

struct TwoWayTransformer {
  std::vector<TwoWayBlock> layers;
  Attention final_attn;
  nn::LayerNorm norm_final;
  static TwoWayTransformer load(const nn::WeightMap& w, const SamConfig& c);
  // image: B×C×h×w, image_pe: B×C×h×w, tokens: B×T×C → (the tokens listed in `outputs` (all when
  // empty), B×|outputs|×C; image tokens B×hw×C).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image, const at::Tensor& image_pe, const at::Tensor& tokens,
                                            const std::vector<int64_t>& outputs = {}) const;
};

// A kernel-2, stride-2 transposed convolution on channels-last pixels is one matrix product:
// C_in → 2×2×C_out (the new 2×2 sub-pixel axes just before the channels).
struct SubpixelLinear {
  at::Tensor weight, bias;  // (2·2·C_out)×C_in, 2·2·C_out
  int64_t out_channels = 0;
  SubpixelLinear() = default;
  explicit SubpixelLinear(const nn::ConvTranspose2d& conv);
};

struct MaskDecoder {
  TwoWayTransformer transformer;
  at::Tensor iou_token, mask_tokens;  // 1×C, M×C
  SubpixelLinear upscale1, upscale2;  // rearranged once at load
  nn::LayerNorm2d upscale_norm;
  std::vector<nn::Mlp> hypernetworks;
  nn::Mlp iou_head;

  static MaskDecoder load(const nn::WeightMap& w, const SamConfig& c);
  int num_mask_tokens() const { return static_cast<int>(mask_tokens.size(0)); }
  // The mask tokens returned: the first one's index among the mask tokens, and how many (all but
  // the single-mask token with multimask, else that one alone).
  std::pair<int, int> returned_masks(bool multimask) const {
    return {multimask ? 1 : 0, multimask ? num_mask_tokens() - 1 : 1};
  }
  // image_embeddings: 1×C×g×g (shared by all B prompts) → (masks B×K×4g×4g, iou B×K).
  // Several prompts without mask inputs take the factored transformer (factored_transformer.h).
  // The IoU predictions come before the masks' upscaling, the larger part of the work: a caller
  // that keeps only masks predicted above a threshold (the automatic mask generator) passes it
  // as masks_if_iou_above, and prompts with no IoU prediction above it get NaN masks (in the
  // factored path their mask tokens' final attention is skipped too).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe,
                                            const at::Tensor& sparse, const at::Tensor& dense, bool multimask,
                                            double masks_if_iou_above = -std::numeric_limits<double>::infinity()) const;
 private:
  // A prompt's first upscaling layer (the transposed convolution, before its norm) on rows
  // [r0, r1) of its h×w token grid: (r1−r0)×w×(2·2·C/4).
  using UpscaledRows = std::function<at::Tensor(int64_t r0, int64_t r1)>;
  // Prompt b's UpscaledRows, asked for only when its masks are wanted.
  using UpscalerOf = std::function<UpscaledRows(int64_t b)>;
  // Mask logits from the hypernetwork outputs (B×K×C/8) of B prompts, written into rows
  // out_rows[b] (b when empty) of out (…×K×4h×4w, contiguous rows).
  void upscale_masks(const UpscalerOf& upscaler_of, int64_t h, int64_t w, const at::Tensor& hyper_in,
                     const at::Tensor& out, const std::vector<int64_t>& out_rows = {}) const;
  // The factored transformer's products with one image (C×h×w) and its positions, and its final
  // shared part through the first upscaling layer, kept for the next call while they are
  // equal: the generator decodes an image's grid in many batches.
  struct FactoredImage;
  struct FactoredCache;
  static std::shared_ptr<FactoredCache> new_factored_cache();
  std::shared_ptr<FactoredCache> factored_cache_ = new_factored_cache();
  std::shared_ptr<const FactoredImage> factored_for(const at::Tensor& image, const at::Tensor& image_pe) const;
  // The output and mask tokens first, then the prompt's own (B×T×C).
  at::Tensor prompt_tokens(const at::Tensor& sparse) const;
  // The returned masks' IoU predictions (B×K) from the IoU token's output (B×C).
  at::Tensor iou_predictions(const at::Tensor& iou_token_out, bool multimask) const;
  // The hypernetworks' outputs (B×K×C/8) from the returned masks' tokens (B×K×C).
  at::Tensor hyper_inputs(const at::Tensor& mask_tokens_out, bool multimask) const;
};

}  // namespace segkit::sam
