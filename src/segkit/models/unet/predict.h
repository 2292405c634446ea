#pragma once
// Whole-image logits, tiled or not: what unet_predict and training's validation share.
#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include "models/unet/network.h"
#include "segkit/unet.h"

namespace segkit::unet {

// classes × H × W logits for an image already in the network's channels (see to_model_channels).
at::Tensor predict_logits(Network& network, const cv::Mat& pixels, const UNetPredictOptions& options = {});
// The same for a model: one network's logits, or an ensemble's averaged class probabilities as
// log-probabilities (which argmax and softmax read as logits).
at::Tensor predict_logits(const UNetModel& model, const cv::Mat& pixels, const UNetPredictOptions& options = {});

}  // namespace segkit::unet
