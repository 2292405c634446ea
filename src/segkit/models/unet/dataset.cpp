#include "models/unet/dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "image/image_completeness.h"
#include "models/unet/preprocess.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/image.h"

namespace fs = std::filesystem;

namespace segkit::unet {

namespace {

std::map<std::string, std::string> files_by_stem(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) fail(folder.string(), "folder not found");
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_regular_file()) continue;
    const std::string stem = entry.path().stem().string();
    auto [it, fresh] = out.emplace(stem, entry.path().string());
    if (!fresh) fail(entry.path().string(), "two files share the stem '" + stem + "' (" + it->second + ")");
  }
  return out;
}

cv::Mat load_mask(const std::string& path, int width, int height) {
  std::vector<uint8_t> bytes = read_file(path);
  if (bytes.empty()) fail(path, "empty file");
  const std::string damage = require_complete_image(bytes.data(), bytes.size(), path, default_allow_truncated());
  if (!damage.empty()) warn_damaged_image(path, damage);
  cv::Mat raw = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()), cv::IMREAD_UNCHANGED);
  if (raw.empty()) fail(path, "cannot decode mask image");
  if (raw.cols != width || raw.rows != height)
    fail(path, "mask is " + std::to_string(raw.cols) + "×" + std::to_string(raw.rows) + " but its image is " +
                   std::to_string(width) + "×" + std::to_string(height));
  if (raw.channels() > 1) {
    // Grey saved as RGB(A) is fine; real colour is a palette the caller must convert.
    std::vector<cv::Mat> planes;
    cv::split(raw, planes);
    for (int c = 1; c < std::min(3, raw.channels()); ++c)
      if (cv::countNonZero(planes[c] != planes[0]) != 0)
        fail(path, "colour mask; expected a single-channel label PNG (class index per pixel)");
    raw = planes[0];
  }
  if (raw.depth() != CV_8U && raw.depth() != CV_16U) fail(path, "mask must be 8- or 16-bit integers");
  double lo = 0, hi = 0;
  cv::minMaxLoc(raw, &lo, &hi);
  if (hi > 255) fail(path, "mask value " + std::to_string(static_cast<int>(hi)) + " is above 255");
  cv::Mat mask;
  raw.convertTo(mask, CV_8U);
  // Binary 0/255 masks are the common export of two-class tools: read them as 0/1.
  if (hi == 255 && cv::countNonZero((mask != 0) & (mask != 255)) == 0) mask = mask / 255;
  return mask;
}

}  // namespace

std::vector<Sample> load_dataset(const std::string& dir, const DatasetOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "data folder not found");
  const fs::path images_dir = fs::path(dir) / "images", masks_dir = fs::path(dir) / "masks";
  auto images = files_by_stem(images_dir), masks = files_by_stem(masks_dir);
  for (const auto& [stem, path] : images)
    if (!masks.count(stem)) fail(path, "image has no mask (expected " + (masks_dir / stem).string() + ".*)");
  for (const auto& [stem, path] : masks)
    if (!images.count(stem)) fail(path, "mask has no image (expected " + (images_dir / stem).string() + ".*)");
  if (images.empty()) fail(images_dir.string(), "no images: empty data set");

  std::vector<Sample> samples;
  for (const auto& [stem, path] : images) {
    Sample s;
    s.stem = stem;
    s.image_path = path;
    s.mask_path = masks.at(stem);
    samples.push_back(std::move(s));
  }
  std::vector<Image> decoded;
  bool colour = false;
  for (const auto& s : samples) {
    decoded.push_back(load_image(s.image_path));
    const auto& rgb = decoded.back().rgb;
    for (size_t i = 0; i < rgb.size() && !colour; i += 3) colour = rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2];
  }
  const int channels = options.channels > 0 ? options.channels : (colour ? 3 : 1);
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i].image = to_model_channels(decoded[i], channels);
    samples[i].mask = load_mask(samples[i].mask_path, decoded[i].width, decoded[i].height);
    decoded[i] = Image();
  }
  if (options.classes > 0) check_classes(samples, options.classes);
  return samples;
}

int max_label(const std::vector<Sample>& samples) {
  double hi = 0;
  for (const auto& s : samples) {
    double lo = 0, h = 0;
    cv::minMaxLoc(s.mask, &lo, &h);
    hi = std::max(hi, h);
  }
  return static_cast<int>(hi);
}

void check_classes(const std::vector<Sample>& samples, int classes) {
  for (const auto& s : samples) {
    double lo = 0, hi = 0;
    cv::minMaxLoc(s.mask, &lo, &hi);
    if (hi >= classes)
      fail(s.mask_path, "mask value " + std::to_string(static_cast<int>(hi)) + " is not below the class count " +
                            std::to_string(classes));
  }
}

std::vector<Sample> split_off(std::vector<Sample>& samples, const std::vector<std::string>& stems,
                              const std::string& dir) {
  std::vector<Sample> taken;
  for (const auto& stem : stems) {
    auto it = std::find_if(samples.begin(), samples.end(), [&](const Sample& s) { return s.stem == stem; });
    if (it == samples.end()) fail("--val-split", "no image with stem '" + stem + "' in " + dir);
    taken.push_back(std::move(*it));
    samples.erase(it);
  }
  if (samples.empty()) fail("--val-split", "leaves no training images in " + dir);
  return taken;
}

}  // namespace segkit::unet
