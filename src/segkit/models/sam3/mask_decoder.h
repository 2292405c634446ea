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
  MaskDecoderOutput forward(const at::Tensor& queries, const std::vector<at::Tensor>& levels,
                            const at::Tensor& memory, const Prompt& prompt) const;

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
  std::vector<nn::GroupNorm> norms_;
  std::vector<nn::Linear> embedder_;
  nn::Conv2d instance_proj_, semantic_proj_;
};

}  // namespace segkit::sam3
