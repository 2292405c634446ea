#pragma once
// SAM 3's mask decoder as transformers 5.17 runs it (Sam3MaskDecoder): the DETR encoder's memory
// attends to the prompt, replaces the ×1 FPN level and is upsampled through the finer levels
// (nearest, skip, conv 3×3, GroupNorm(8), ReLU per level) into per-pixel embeddings; each query's
// mask embedding (an MLP) dotted with their 1×1 projection gives pred_masks, and a 1×1 projection
// to one channel gives semantic_seg. Float32, at the finest FPN level's size (¼ of the input).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/blocks.h"
#include "models/sam3/geometry_encoder.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct MaskDecoderOutput {
  at::Tensor pred_masks;    // B × Q × h × w logits
  at::Tensor semantic_seg;  // B × 1 × h × w logits
};

class MaskDecoder {
 public:
  // Weights under `prefix` ("" or "detector_model.") + "mask_decoder.…", every shape checked.
  // The sizes are Sam3Config::mask_decoder's (hidden_size, num_attention_heads,
  // num_upsampling_stages).
  static MaskDecoder load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads,
                          int64_t stages);

  // queries B × Q × C: the last DETR decoder layer's (DetrOutput::queries).
  // levels: the FPN levels finest first down to the one the DETR encoder ran on ([×4, ×2, ×1] of
  // the vision encoder), each of batch B or 1 (one image, several phrases); that last one only
  // gives the grid of `memory`, which replaces it.
  // memory B × (≥ h·w) × C: the DETR encoder's output, row-major over that grid.
  // prompt: the tokens B (or 1) × P × C and mask B (or 1) × P (nonzero = real; undefined: all
  // real) the DETR attended to; undefined tokens skip the prompt cross-attention, as
  // transformers does.
  // skip_terms: skip_terms(levels) of the same image(s), computed once for any number of phrases;
  // empty: each stage convolves the sum of the upsampled map and its level, as transformers.
  MaskDecoderOutput forward(const at::Tensor& queries, const std::vector<at::Tensor>& levels,
                            const at::Tensor& memory, const Prompt& prompt,
                            const std::vector<at::Tensor>& skip_terms = {}) const;

  // Each upsampling stage's convolution (with its bias) of the FPN level it adds: the part of the
  // pixel decoder that depends on the image alone, one per stage, finest level last, channels-last
  // in the convolutions' type (bfloat16 after use_bfloat16: the half of the memory, same values).
  // The convolution is linear, so a stage given it convolves only the upsampled map, and where
  // the level is exactly twice the coarser map's size that is four 2×2 convolutions of the
  // coarser map (4 of the 9 taps per output pixel): 27 instead of 61 G multiply-adds per phrase
  // at 1008 px.
  std::vector<at::Tensor> skip_terms(const std::vector<at::Tensor>& levels) const;

  // The memory after the prompt cross-attention's residual (tests compare the attention part).
  at::Tensor attend_prompt(const at::Tensor& memory, const Prompt& prompt) const;
  // mask_embedder(queries): B × Q × C.
  at::Tensor embed_queries(const at::Tensor& queries) const;

  // The pixel decoder's 3×3 convolutions in bfloat16 on channels-last maps (oneDNN's fast
  // kernels for them); the group norms and everything after stay float32.
  void use_bfloat16();

 private:
  int64_t width_ = 0;
  nn::LayerNorm prompt_norm_;
  Attention prompt_attn_;
  std::vector<nn::Conv2d> convs_;  // one per upsampling stage; the last is never used (see .cpp)
  // Per stage, convs_' 3×3 kernel folded for a map upsampled ×2 by nearest: the 2×2 kernels of
  // the four output phases (row parity, column parity) stacked as 4·C output channels.
  std::vector<at::Tensor> phase_weights_;
  std::vector<nn::GroupNorm> norms_;
  std::vector<nn::Linear> embedder_;
  nn::Conv2d instance_proj_, semantic_proj_;

  // Error unless `levels` are ≥ 2 maps of width_ channels, of `batch` (or 1; 0: any).
  void check_levels(const std::vector<at::Tensor>& levels, int64_t batch) const;
  // convs_[stage] without its bias of upsample_nearest(p) to the size of `term`, plus `term`.
  at::Tensor convolve_upsampled(const at::Tensor& p, size_t stage, const at::Tensor& term) const;
};

}  // namespace segkit::sam3
