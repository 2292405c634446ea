#pragma once
// Multiply-adds of one Mask2Former forward pass, counted analytically from the configuration
// the way segkit computes it (padded Swin windows included, every decoder layer's prediction
// included). Only matrix products and convolutions count: norms, softmax, activations,
// resizing and the other elementwise work are left out, so GFLOP = 2 × MACs is the arithmetic a
// GEMM-bound implementation cannot avoid.
#include <cstdint>

#include "segkit/mask2former.h"

namespace segkit::mask2former {

struct ForwardMacs {
  int64_t backbone = 0;             // patch embedding, Swin blocks (window attention), patch merging
  int64_t pixel_decoder = 0;        // input projections, deformable encoder, FPN, mask projection
  int64_t transformer_decoder = 0;  // masked-attention layers and every layer's class + mask prediction
  int64_t total() const { return backbone + pixel_decoder + transformer_decoder; }
};

// For one 1 × 3 × height × width input (the processed size, multiples of 32).
ForwardMacs count_macs(const Mask2FormerConfig& config, int64_t height, int64_t width);

}  // namespace segkit::mask2former
