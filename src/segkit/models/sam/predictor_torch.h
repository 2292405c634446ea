#pragma once
// Tensor-level access to a SamPredictor for pipelines built on it (the mask generator, the
// server), mirroring upstream SamPredictor.predict_torch. Internal: not installed.
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>

#include <array>
#include <limits>
#include <utility>

#include "segkit/sam.h"

namespace segkit::sam {

struct TorchPrediction {
  at::Tensor masks;            // B×K×H×W at the original size: logits if return_logits, else bool
  at::Tensor iou_predictions;  // B×K
  at::Tensor low_res_logits;   // B×K×h×w
};

// point_coords: B×N×2 float32, already in the model's input frame (see apply_coords);
// point_labels: B×N int; boxes: B×4 in the input frame or undefined; mask_input: B×1×h×w or undefined.
TorchPrediction predict_torch(const SamPredictor& predictor, const at::Tensor& point_coords,
                              const at::Tensor& point_labels, const at::Tensor& boxes,
                              const at::Tensor& mask_input, bool multimask_output, bool return_logits);

// The decoder alone: low-res logits (B×K×h×w) and IoU predictions (B×K), no upscaling.
// With a finite masks_if_iou_above, only prompts with some IoU prediction above it get their
// low-res masks computed; the others are NaN (see MaskDecoder::forward).
std::pair<at::Tensor, at::Tensor> decode_low_res(const SamPredictor& predictor, const at::Tensor& point_coords,
                                                 const at::Tensor& point_labels, const at::Tensor& boxes,
                                                 const at::Tensor& mask_input, bool multimask_output,
                                                 double masks_if_iou_above = -std::numeric_limits<double>::infinity());

// Upstream Sam.postprocess_masks: low-res logits (N×K×h×w or N×h×w) → logits at the original
// size (bilinear to image_size², crop to the resized input, bilinear to the original size).
at::Tensor postprocess_masks(const at::Tensor& low_res, int image_size, std::array<int, 2> input_size,
                             std::array<int, 2> original_size);

// Upstream ResizeLongestSide.apply_coords: original-image (x, y) → input-frame coordinates.
at::Tensor apply_coords(const at::Tensor& coords, std::array<int, 2> original_size, int target_length);

}  // namespace segkit::sam
