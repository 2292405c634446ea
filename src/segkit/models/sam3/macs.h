#pragma once
// Multiply-adds of SAM 3's vision encoder and of one phrase after it (text encoder, DETR and
// mask decoder), counted analytically from the configuration the way segkit computes them
// (padded windows included). Only matrix products and convolutions count:
// norms, softmax, RoPE, activations and pooling are left out, so GFLOP = 2 × MACs is the
// arithmetic a GEMM-bound implementation cannot avoid.
#include <cstdint>

#include "models/sam3/config.h"

namespace segkit::sam3 {

struct VisionMacs {
  int64_t vit = 0;   // patch embedding, q/k/v/o projections, attention products, MLPs
  int64_t neck = 0;  // transposed convolutions and the 1×1 and 3×3 projections
  int64_t mask_skips = 0;  // the mask decoder's convolutions of the finer levels (MaskDecoder::skip_terms)
  int64_t total() const { return vit + neck + mask_skips; }
};

// For one image at the config's input size; the ×0.5 level only with `all_levels` (Sam3Model
// drops it, and VisionEncoder skips it by default).
VisionMacs count_vision_macs(const Sam3Config& config, bool all_levels = false);

// One text phrase against one encoded image, as sam3::Model runs it: the text encoder over the
// 32 padded positions (no trimming), the DETR encoder over the ×1 level's grid with the 32
// prompt tokens, the decoder's queries and presence token (box bias MLPs and heads included),
// the scoring head, and the mask decoder (prompt cross-attention over the memory, one
// upsampling stage per finer level with the levels' own convolutions counted once per image in
// VisionMacs::mask_skips, the projections and the query-mask product). Box prompts
// (the geometry encoder) are not counted. Several phrases cost this many times over.
struct PhraseMacs {
  int64_t text = 0;
  int64_t detr_encoder = 0;
  int64_t detr_decoder = 0;  // with the scoring head
  int64_t mask_decoder = 0;
  int64_t detect() const { return detr_encoder + detr_decoder + mask_decoder; }
  int64_t total() const { return text + detect(); }
};
PhraseMacs count_phrase_macs(const Sam3Config& config);

}  // namespace segkit::sam3
