#pragma once
// A segmentation data set on disk: DIR/images/* and DIR/masks/*, matched by file stem, loaded
// whole into memory and checked up front so that training never starts on bad data.
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace segkit::unet {

struct Sample {
  std::string stem, image_path, mask_path;
  cv::Mat image;  // CV_8UC1 or CV_8UC3 (RGB), the network's channel count
  cv::Mat mask;   // CV_8UC1 class indices
};

struct DatasetOptions {
  int channels = 0;  // 0 = 1 if every image is grey, else 3
  int classes = 0;   // 0 = no check here (see check_classes)
};

// Error naming the file or folder for: missing folders, images without masks or the reverse,
// two files with one stem, undecodable files, masks that are not single-channel label images,
// masks of another size than their image, and an empty data set.
// Masks holding only 0 and 255 are binary and read as 0/1.
std::vector<Sample> load_dataset(const std::string& dir, const DatasetOptions& options = {});

int max_label(const std::vector<Sample>& samples);
// Error naming the first mask holding a value >= classes.
void check_classes(const std::vector<Sample>& samples, int classes);

// Moves the samples whose stems are listed out of `samples`; Error for unknown stems.
std::vector<Sample> split_off(std::vector<Sample>& samples, const std::vector<std::string>& stems,
                              const std::string& dir);

}  // namespace segkit::unet
