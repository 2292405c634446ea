#pragma once
// What `segkit segment` asks of a model family: the files of one image, and what the folder-level
// files need after all of them. The command's loop (one image or a resumable folder, progress,
// skipped failures, shards, the summary) is the same for every family, and so are the
// folder-level files (write_folder_files), so that `segkit merge` writes them without a model.
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
  // The image's JSON file that the folder-level files gather, relative to OUT; "" for none.
  virtual std::string part(const std::string& base) const = 0;
  // Segments the image and writes its files; returns how many segments (or instances) it found.
  virtual size_t segment(const ImageJob& job, const Image& image) = 0;
  // What write_folder_files needs besides the parts: {"kind": "semantic", "labels_json": text},
  // {"kind": "instance"[, "categories_json": text]} or {"kind": "panoptic", "categories": [...]}.
  virtual nlohmann::json folder_info() const = 0;
};

// The folder-level files from the images' parts (those that exist, in the order given; Error
// naming a part that is not valid JSON):
// semantic labels.json; instance results.json (all records) and categories.json when named;
// panoptic panoptic.json (annotations and categories).
void write_folder_files(const std::filesystem::path& out, const nlohmann::json& info,
                        const std::vector<std::filesystem::path>& parts);

// A COCO image id for each file: from --image-ids (a COCO JSON's "images"), else the stem when
// every stem is a number (COCO's 000000000139.jpg is 139), else the position in the sorted
// list from 1.
std::vector<int64_t> image_ids_for(const std::vector<std::filesystem::path>& files, const std::string& ids_file);

// Error naming the folder when it cannot be created.
void ensure_folder(const std::filesystem::path& folder);

}  // namespace segkit::cli
