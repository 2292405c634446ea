#include "segkit/overlay.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace segkit {

std::array<uint8_t, 3> mask_color(size_t i) {
  // Golden-ratio hue steps keep neighbouring indices far apart on the colour wheel.
  const double h = std::fmod(0.13 + 0.618033988749895 * static_cast<double>(i), 1.0) * 6.0;
  const double s = 0.75, v = 0.95;
  const int sector = static_cast<int>(h);
  const double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r, g, b;
  switch (sector % 6) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
  }
  return {static_cast<uint8_t>(r * 255), static_cast<uint8_t>(g * 255), static_cast<uint8_t>(b * 255)};
}

Image overlay_masks(const Image& image, const std::vector<const uint8_t*>& masks, float alpha) {
  Image out = image;
  const int W = image.width, H = image.height;
  for (size_t m = 0; m < masks.size(); ++m) {
    const uint8_t* mask = masks[m];
    const auto c = mask_color(m);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const size_t i = static_cast<size_t>(y) * W + x;
        if (!mask[i]) continue;
        const bool edge = (x == 0 || !mask[i - 1]) || (x == W - 1 || !mask[i + 1]) || (y == 0 || !mask[i - W]) ||
                          (y == H - 1 || !mask[i + W]);
        uint8_t* p = &out.rgb[3 * i];
        for (int k = 0; k < 3; ++k)
          p[k] = edge ? c[k] : static_cast<uint8_t>(std::lround(p[k] * (1 - alpha) + c[k] * alpha));
      }
  }
  return out;
}

void draw_points(Image& image, const std::vector<std::array<float, 2>>& points, const std::vector<int>& labels) {
  cv::Mat m(image.height, image.width, CV_8UC3, image.rgb.data());
  const int r = std::max(3, std::min(image.width, image.height) / 80);
  for (size_t i = 0; i < points.size(); ++i) {
    cv::Point c(static_cast<int>(std::lround(points[i][0])), static_cast<int>(std::lround(points[i][1])));
    const bool fg = i < labels.size() && labels[i] == 1;
    cv::circle(m, c, r + 1, cv::Scalar(255, 255, 255), cv::FILLED, cv::LINE_AA);
    cv::circle(m, c, r, fg ? cv::Scalar(30, 200, 60) : cv::Scalar(220, 40, 40), cv::FILLED, cv::LINE_AA);
  }
}

void draw_box(Image& image, const std::array<float, 4>& b) {
  cv::Mat m(image.height, image.width, CV_8UC3, image.rgb.data());
  cv::rectangle(m, cv::Point(static_cast<int>(b[0]), static_cast<int>(b[1])), cv::Point(static_cast<int>(b[2]), static_cast<int>(b[3])),
                cv::Scalar(250, 220, 40), std::max(1, std::min(image.width, image.height) / 300), cv::LINE_AA);
}

}  // namespace segkit
