#include "models/unet/preprocess.h"

#include <ATen/ops/empty.h>
#include <opencv2/imgproc.hpp>

#include "segkit/error.h"

namespace segkit::unet {

cv::Mat to_model_channels(const Image& image, int channels) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat out;
  if (channels == 3) out = rgb.clone();
  else cv::cvtColor(rgb, out, cv::COLOR_RGB2GRAY);
  return out;
}

at::Tensor to_input(const std::vector<cv::Mat>& crops, const UNetConfig& config) {
  if (crops.empty()) fail("U-Net", "empty batch");
  const int h = crops[0].rows, w = crops[0].cols, c = config.in_channels;
  at::Tensor out = at::empty({static_cast<int64_t>(crops.size()), c, h, w}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const size_t plane = static_cast<size_t>(h) * w;
  for (size_t n = 0; n < crops.size(); ++n) {
    const cv::Mat& m = crops[n];
    if (m.rows != h || m.cols != w || m.channels() != c || m.depth() != CV_8U)
      fail("U-Net", "batch crops differ in size or channels");
    for (int ch = 0; ch < c; ++ch) {
      const float scale = 1.0f / (255.0f * config.std[ch]), shift = config.mean[ch] / config.std[ch];
      float* plane_out = dst + (n * c + ch) * plane;
      for (int y = 0; y < h; ++y) {
        const uint8_t* row = m.ptr<uint8_t>(y);
        float* o = plane_out + static_cast<size_t>(y) * w;
        for (int x = 0; x < w; ++x) o[x] = row[x * c + ch] * scale - shift;
      }
    }
  }
  return out;
}

}  // namespace segkit::unet
