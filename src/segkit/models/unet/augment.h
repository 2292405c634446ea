#pragma once
// Training crops and their random augmentations. Every random choice comes from the generator
// passed in, so a crop is a pure function of (sample, seed): training is reproducible and
// resumable at any step.
#include <opencv2/core.hpp>

#include <random>
#include <string>
#include <vector>

namespace segkit::unet {

struct Augmentations {
  bool flip = false, rot90 = false, elastic = false, intensity = false;
  // Error naming the unknown entry; accepts flip, rot90, elastic, intensity.
  static Augmentations parse(const std::vector<std::string>& names);
  double elastic_sigma = 10.0;  // pixels: std of the displacements on a coarse 3×3 grid, as the paper
};

// A `size`×`size` crop at a random position (the image is mirrored out if smaller), augmented;
// the per-pixel loss weights (CV_32F, may be empty) follow the mask.
void random_crop(const cv::Mat& image, const cv::Mat& mask, const cv::Mat& weight, int size, const Augmentations& aug,
                 std::mt19937_64& rng, cv::Mat& image_out, cv::Mat& mask_out, cv::Mat& weight_out);

}  // namespace segkit::unet
