#pragma once
// Stages of the automatic mask generator (segkit/sam_generator.h), exposed for tests and the
// benchmark. Internal: not installed.
#include <ATen/core/Tensor.h>

#include <array>

#include "segkit/sam.h"

namespace segkit::amg {

// The predictor's current image embedding as a 1×C×g×g tensor.
at::Tensor image_features(const SamPredictor& predictor);

// The mask decoder on a batch of single-point prompts against an image embedding, without
// upscaling: (low-res logits B×K×h×w, predicted IoU B×K). coords: B×1×2 float32 in the model's
// input frame; multimask output, as upstream's generator asks for.
std::pair<at::Tensor, at::Tensor> decode_points(const SamModel& model, const at::Tensor& features, const at::Tensor& coords);

// Upstream Sam.postprocess_masks: low-res logits N×h×w → N×H×W logits at the original size
// (bilinear to image_size², crop to the resized input, bilinear to the original size).
at::Tensor upscale_logits(const at::Tensor& low_res, int image_size, std::array<int, 2> input_size,
                          std::array<int, 2> original_size);

}  // namespace segkit::amg
