#pragma once
// Mask2Former's sine position embedding (DETR's, normalised, no padding mask), shared by the
// pixel decoder and the transformer decoder.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace segkit::mask2former {

// 1 × 2·num_pos_feats × height × width float32: channels [0, npf) encode the row, [npf, 2·npf)
// the column; position (i+1)/(size+1e-6)·2π, frequencies 10000^(2⌊k/2⌋/npf), sin on even k and
// cos on odd k.
at::Tensor sine_position_embedding(int64_t height, int64_t width, int64_t num_pos_feats);

}  // namespace segkit::mask2former
