#include "models/unet/border_weights.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <limits>

namespace segkit::unet {

cv::Mat border_weights(const cv::Mat& mask, double w0, double sigma) {
  cv::Mat weights(mask.size(), CV_32F, cv::Scalar(1.0f));
  if (w0 <= 0 || mask.empty()) return weights;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask != 0, labels, stats, centroids, 4, CV_32S);
  // Beyond this distance the weight is within 1e-4·w0 of 1: each object only needs its
  // distances inside its bounding box grown by it.
  const int reach = static_cast<int>(std::ceil(sigma * std::sqrt(2.0 * std::log(1e4))));
  const float inf = std::numeric_limits<float>::infinity();
  cv::Mat d1(mask.size(), CV_32F, cv::Scalar(inf)), d2(mask.size(), CV_32F, cv::Scalar(inf));
  for (int object = 1; object < n; ++object) {
    const cv::Rect box(stats.at<int>(object, cv::CC_STAT_LEFT), stats.at<int>(object, cv::CC_STAT_TOP),
                       stats.at<int>(object, cv::CC_STAT_WIDTH), stats.at<int>(object, cv::CC_STAT_HEIGHT));
    const cv::Rect window = (box + cv::Size(2 * reach, 2 * reach) - cv::Point(reach, reach)) & cv::Rect(0, 0, mask.cols, mask.rows);
    cv::Mat outside = labels(window) != object, distance;
    cv::distanceTransform(outside, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    for (int y = 0; y < window.height; ++y) {
      const float* d = distance.ptr<float>(y);
      float* a = d1.ptr<float>(window.y + y) + window.x;
      float* b = d2.ptr<float>(window.y + y) + window.x;
      for (int x = 0; x < window.width; ++x) {
        if (d[x] < a[x]) {
          b[x] = a[x];
          a[x] = d[x];
        } else if (d[x] < b[x]) {
          b[x] = d[x];
        }
      }
    }
  }
  const double scale = -1.0 / (2.0 * sigma * sigma);
  for (int y = 0; y < mask.rows; ++y) {
    const float* a = d1.ptr<float>(y);
    const float* b = d2.ptr<float>(y);
    float* w = weights.ptr<float>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (std::isinf(b[x])) continue;  // fewer than two objects within reach
      const double s = double(a[x]) + double(b[x]);
      w[x] = static_cast<float>(1.0 + w0 * std::exp(s * s * scale));
    }
  }
  return weights;
}

}  // namespace segkit::unet
