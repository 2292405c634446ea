#pragma once
// Pixels into the network: images in the model's channel count, and batches of 8-bit crops into
// normalised float tensors. Training and prediction share this so they never disagree.
#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <vector>

#include "segkit/image.h"
#include "segkit/unet.h"

namespace segkit::unet {

// CV_8UC1 (luminance, as OpenCV's RGB→grey) or CV_8UC3 (RGB) for a 1- or 3-channel network.
cv::Mat to_model_channels(const Image& image, int channels);

// N × C × H × W float: (pixel / 255 - mean) / std. All crops share one size and channel count.
at::Tensor to_input(const std::vector<cv::Mat>& crops, const UNetConfig& config);

}  // namespace segkit::unet
