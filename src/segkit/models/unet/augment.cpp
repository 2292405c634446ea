#include "models/unet/augment.h"

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "segkit/error.h"

namespace segkit::unet {

Augmentations Augmentations::parse(const std::vector<std::string>& names) {
  Augmentations a;
  for (const auto& n : names) {
    if (n == "flip") a.flip = true;
    else if (n == "rot90") a.rot90 = true;
    else if (n == "elastic") a.elastic = true;
    else if (n == "intensity") a.intensity = true;
    else if (!n.empty() && n != "none") fail("--augment", "unknown augmentation '" + n + "' (flip, rot90, elastic, intensity)");
  }
  return a;
}

namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0));
}

// Smooth random deformation: displacements drawn on a 3×3 grid, interpolated bicubically.
void elastic(cv::Mat& image, cv::Mat& mask, cv::Mat& weight, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, sigma);
  cv::Mat coarse_x(3, 3, CV_32F), coarse_y(3, 3, CV_32F);
  for (int i = 0; i < 9; ++i) {
    coarse_x.at<float>(i / 3, i % 3) = static_cast<float>(normal(rng));
    coarse_y.at<float>(i / 3, i % 3) = static_cast<float>(normal(rng));
  }
  cv::Mat dx, dy;
  cv::resize(coarse_x, dx, image.size(), 0, 0, cv::INTER_CUBIC);
  cv::resize(coarse_y, dy, image.size(), 0, 0, cv::INTER_CUBIC);
  for (int y = 0; y < image.rows; ++y) {
    float* px = dx.ptr<float>(y);
    float* py = dy.ptr<float>(y);
    for (int x = 0; x < image.cols; ++x) {
      px[x] += static_cast<float>(x);
      py[x] += static_cast<float>(y);
    }
  }
  cv::Mat warped_image, warped_mask;
  cv::remap(image, warped_image, dx, dy, cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  cv::remap(mask, warped_mask, dx, dy, cv::INTER_NEAREST, cv::BORDER_REFLECT_101);
  image = warped_image;
  mask = warped_mask;
  if (!weight.empty()) {
    cv::Mat warped_weight;
    cv::remap(weight, warped_weight, dx, dy, cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
    weight = warped_weight;
  }
}

// Contrast, brightness and gamma jitter through one lookup table.
void intensity(cv::Mat& image, std::mt19937_64& rng) {
  const double contrast = uniform(rng, 0.8, 1.2), brightness = uniform(rng, -0.1, 0.1);
  const double gamma = std::exp(uniform(rng, std::log(0.8), std::log(1.25)));
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) {
    double x = std::pow(v / 255.0, gamma);
    x = (x - 0.5) * contrast + 0.5 + brightness;
    lut.at<uint8_t>(v) = cv::saturate_cast<uint8_t>(std::lround(x * 255.0));
  }
  cv::LUT(image, lut, image);
}

}  // namespace

void random_crop(const cv::Mat& image, const cv::Mat& mask, const cv::Mat& weight, int size, const Augmentations& aug,
                 std::mt19937_64& rng, cv::Mat& image_out, cv::Mat& mask_out, cv::Mat& weight_out) {
  cv::Mat img = image, msk = mask, wgt = weight;
  if (img.rows < size || img.cols < size) {
    const int bottom = std::max(0, size - img.rows), right = std::max(0, size - img.cols);
    cv::copyMakeBorder(image, img, 0, bottom, 0, right, cv::BORDER_REFLECT_101);
    cv::copyMakeBorder(mask, msk, 0, bottom, 0, right, cv::BORDER_REFLECT_101);
    if (!weight.empty()) cv::copyMakeBorder(weight, wgt, 0, bottom, 0, right, cv::BORDER_REFLECT_101);
  }
  const int y = static_cast<int>(rng() % static_cast<uint64_t>(img.rows - size + 1));
  const int x = static_cast<int>(rng() % static_cast<uint64_t>(img.cols - size + 1));
  image_out = img(cv::Rect(x, y, size, size)).clone();
  mask_out = msk(cv::Rect(x, y, size, size)).clone();
  weight_out = wgt.empty() ? cv::Mat() : wgt(cv::Rect(x, y, size, size)).clone();
  // The same geometric change to every plane.
  auto each = [&](auto&& change) {
    change(image_out);
    change(mask_out);
    if (!weight_out.empty()) change(weight_out);
  };
  if (aug.flip) {
    const uint64_t r = rng();
    if (r & 1) each([](cv::Mat& m) { cv::flip(m, m, 1); });
    if (r & 2) each([](cv::Mat& m) { cv::flip(m, m, 0); });
  }
  if (aug.rot90) {
    const int k = static_cast<int>(rng() % 4);
    if (k > 0) {
      const int code = k == 1 ? cv::ROTATE_90_CLOCKWISE : k == 2 ? cv::ROTATE_180 : cv::ROTATE_90_COUNTERCLOCKWISE;
      each([code](cv::Mat& m) { cv::rotate(m, m, code); });
    }
  }
  if (aug.elastic) elastic(image_out, mask_out, weight_out, aug.elastic_sigma, rng);
  if (aug.intensity) intensity(image_out, rng);
}

}  // namespace segkit::unet
