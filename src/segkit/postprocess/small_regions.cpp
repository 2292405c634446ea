#include "postprocess/small_regions.h"

#if !SEGKIT_GPU_KIT
#include <opencv2/imgproc.hpp>
#endif

#include <algorithm>

#include "segkit/error.h"

namespace segkit::amg {

#if SEGKIT_GPU_KIT  // cmake/SegkitGpuKit.cmake: no OpenCV there
bool remove_small_regions(std::vector<uint8_t>&, int, int, double, RegionMode) {
  fail("remove_small_regions", "not in segkit's GPU kit build, which has no OpenCV (min_mask_region_area 0 works)");
}
#else
bool remove_small_regions(std::vector<uint8_t>& mask, int height, int width, double area_thresh, RegionMode mode) {
  if (mask.size() != size_t(height) * size_t(width)) fail("remove_small_regions", "mask size does not match");
  const bool holes = mode == RegionMode::Holes;
  // Holes are components of the background, islands components of the foreground.
  cv::Mat working(height, width, CV_8U);
  for (size_t i = 0; i < mask.size(); ++i) working.data[i] = static_cast<uint8_t>(holes != (mask[i] != 0));
  cv::Mat labels, stats, centroids;
  const int n_labels = cv::connectedComponentsWithStats(working, labels, stats, centroids, 8, CV_32S);

  // Label 0 is whatever the working mask does not cover.
  std::vector<uint8_t> small(size_t(n_labels), 0);
  bool any_small = false;
  for (int l = 1; l < n_labels; ++l) {
    if (stats.at<int>(l, cv::CC_STAT_AREA) < area_thresh) small[size_t(l)] = any_small = true;
  }
  if (!any_small) return false;

  // fill[l]: pixels of label l are foreground in the result.
  std::vector<uint8_t> fill(size_t(n_labels), 0);
  if (holes) {
    fill[0] = 1;
    for (int l = 1; l < n_labels; ++l) fill[size_t(l)] = small[size_t(l)];
  } else {
    bool any_kept = false;
    for (int l = 1; l < n_labels; ++l) fill[size_t(l)] = !small[size_t(l)], any_kept |= !small[size_t(l)];
    if (!any_kept) {
      int largest = 1;
      for (int l = 2; l < n_labels; ++l) {
        if (stats.at<int>(l, cv::CC_STAT_AREA) > stats.at<int>(largest, cv::CC_STAT_AREA)) largest = l;
      }
      fill[size_t(largest)] = 1;
    }
  }
  const int* lab = labels.ptr<int>();
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = fill[size_t(lab[i])];
  return true;
}

#endif

}  // namespace segkit::amg
