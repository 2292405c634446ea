#pragma once
// What `segkit segment` asks of a model family: the files of one image, and the folder-level
// files after all of them. The command's loop (one image or a resumable folder, progress,
// skipped failures, the summary) is the same for every family.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segkit/image.h"

namespace segkit::cli {

struct ImageJob {
  std::filesystem::path file;
  std::string base;  // output base name (image_folder.h)
  int64_t image_id = 0;
};

class FolderSegmenter {
 public:
  virtual ~FolderSegmenter() = default;
  // The last file written for an image: its existence marks the image done.
  virtual std::filesystem::path done_marker(const std::string& base) const = 0;
  // Segments the image and writes its files; returns how many segments (or instances) it found.
  virtual size_t segment(const ImageJob& job, const Image& image) = 0;
  // The folder-level files, from the images' own (bases: every image's, done or not).
  virtual void finish(const std::vector<std::string>& bases) = 0;
};

// A COCO image id for each file: from --image-ids (a COCO JSON's "images"), else the stem when
// every stem is a number (COCO's 000000000139.jpg is 139), else the position in the sorted
// list from 1.
std::vector<int64_t> image_ids_for(const std::vector<std::filesystem::path>& files, const std::string& ids_file);

// The JSON files among `parts` that exist (images done), in order. Error naming a file that is
// not valid JSON ("delete it to redo the image").
std::vector<nlohmann::json> read_image_parts(const std::vector<std::filesystem::path>& parts);

// Error naming the folder when it cannot be created.
void ensure_folder(const std::filesystem::path& folder);

}  // namespace segkit::cli
