#pragma once
// The images of a folder for commands that process every one of them, and the base name each
// one's outputs take.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "segkit/error.h"

namespace segkit::cli {

inline bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* known[] = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
  return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return ext == k; });
}

// Image files directly in `folder`, sorted by path; Error when it cannot be listed.
inline std::vector<std::filesystem::path> list_images(const std::string& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) fail(folder, "not a folder");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
  if (ec) fail(folder, "cannot list folder: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

// Each file's output base name: its stem, or its whole name when another image shares the stem
// (a.jpg, a.png). Stems are counted once, so a folder of thousands stays linear.
inline std::vector<std::string> output_bases(const std::vector<std::filesystem::path>& files) {
  std::map<std::string, int> stems;
  for (const auto& f : files) ++stems[f.stem().string()];
  std::vector<std::string> bases;
  for (const auto& f : files) bases.push_back(stems[f.stem().string()] > 1 ? f.filename().string() : f.stem().string());
  return bases;
}

}  // namespace segkit::cli
