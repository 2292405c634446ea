#pragma once
// The U-Net paper's separation weights (Ronneberger et al. 2015, eq. 2):
//   w(x) = 1 + w0 · exp(−(d1(x) + d2(x))² / (2σ²)),
// d1 and d2 the distances to the nearest and second-nearest object, so that the thin gaps
// between touching objects weigh most in the loss. Objects are the 4-connected regions of
// every label other than 0 (in the ISBI stack: cells, separated by membrane = 0).
#include <opencv2/core.hpp>

namespace segkit::unet {

// CV_32F weights of the size of `mask` (CV_8UC1 labels).
cv::Mat border_weights(const cv::Mat& mask, double w0, double sigma);

}  // namespace segkit::unet
