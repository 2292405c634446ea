#include "segkit/segmentation_files.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/label_map.h"
#include "segkit/overlay.h"
#include "segkit/rle.h"

namespace segkit {

namespace {

void require_size(const Segmentation& s, const char* what) {
  if (s.width <= 0 || s.height <= 0 || s.ids.size() != static_cast<size_t>(s.width) * s.height)
    throw Error(std::string(what) + ": segmentation map does not match its size");
}

// Scores are rounded to 6 decimals: written as such, not as the float's binary expansion.
double six_decimals(float score) { return std::nearbyint(static_cast<double>(score) * 1e6) / 1e6; }

nlohmann::json bbox_json(const std::array<double, 4>& box) { return {box[0], box[1], box[2], box[3]}; }

}  // namespace

std::string label_legend_json(const std::vector<std::string>& labels) {
  nlohmann::ordered_json legend = nlohmann::ordered_json::object();
  for (size_t i = 0; i < labels.size(); ++i) legend[std::to_string(i)] = labels[i];
  return legend.dump(2) + "\n";
}

void save_semantic_png(const std::string& path, const Segmentation& s) {
  require_size(s, "semantic PNG");
  std::vector<uint16_t> labels(s.ids.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (s.ids[i] < 0 || s.ids[i] > std::numeric_limits<uint16_t>::max())
      throw Error(path + ": label " + std::to_string(s.ids[i]) + " does not fit a 16-bit PNG");
    labels[i] = static_cast<uint16_t>(s.ids[i]);
  }
  save_label_png(path, labels.data(), s.width, s.height);
}

std::string coco_instance_results_json(const Segmentation& s, int64_t image_id) {
  require_size(s, "instance results");
  const size_t plane = static_cast<size_t>(s.width) * s.height;
  if (s.instance_masks.size() != plane * s.segments.size())
    throw Error("instance results: one mask per segment is needed");
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < s.segments.size(); ++i) {
    const Rle rle = rle_encode(s.instance_masks.data() + i * plane, s.height, s.width);
    results.push_back({{"image_id", image_id},
                       {"category_id", s.segments[i].label_id},
                       {"score", six_decimals(s.segments[i].score)},
                       {"segmentation", {{"size", {s.height, s.width}}, {"counts", rle_to_string(rle)}}},
                       {"bbox", bbox_json(rle_bbox(rle))},
                       {"area", rle_area(rle)}});
  }
  return results.dump();
}

PanopticRecord coco_panoptic_record(const Segmentation& s, int64_t image_id, const std::string& file_name,
                                    const std::vector<int>& stuff_labels) {
  require_size(s, "panoptic record");
  // The first segment listed with an id owns its pixels.
  std::map<int32_t, size_t> first_with_id;
  for (size_t i = 0; i < s.segments.size(); ++i) first_with_id.emplace(s.segments[i].id, i);
  std::map<int32_t, int32_t> renumbered;  // old id → 1, 2, ... by first appearance in segments
  std::vector<size_t> owners;
  for (const auto& [id, index] : first_with_id) owners.push_back(index);
  std::sort(owners.begin(), owners.end());
  for (size_t k = 0; k < owners.size(); ++k) renumbered[s.segments[owners[k]].id] = static_cast<int32_t>(k + 1);

  const int w = s.width, h = s.height;
  struct Extent {
    int64_t area = 0;
    int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max(), x1 = -1, y1 = -1;
  };
  std::vector<Extent> extents(owners.size() + 1);
  PanopticRecord record;
  record.png.width = w;
  record.png.height = h;
  record.png.rgb.assign(static_cast<size_t>(w) * h * 3, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const auto it = renumbered.find(s.ids[i]);
      if (it == renumbered.end()) continue;
      const int32_t id = it->second;
      record.png.rgb[3 * i] = static_cast<uint8_t>(id % 256);
      record.png.rgb[3 * i + 1] = static_cast<uint8_t>(id / 256 % 256);
      record.png.rgb[3 * i + 2] = static_cast<uint8_t>(id / 65536 % 256);
      Extent& e = extents[id];
      ++e.area;
      e.x0 = std::min(e.x0, x), e.y0 = std::min(e.y0, y), e.x1 = std::max(e.x1, x), e.y1 = std::max(e.y1, y);
    }
  nlohmann::json segments = nlohmann::json::array();
  for (size_t k = 0; k < owners.size(); ++k) {
    const Segment& seg = s.segments[owners[k]];
    const Extent& e = extents[k + 1];
    if (e.area == 0) continue;  // overwritten everywhere: not in the PNG, so not listed
    const bool stuff = std::count(stuff_labels.begin(), stuff_labels.end(), seg.label_id) > 0;
    segments.push_back({{"id", k + 1},
                        {"category_id", seg.label_id},
                        {"isthing", stuff ? 0 : 1},
                        {"area", e.area},
                        {"bbox", {e.x0, e.y0, e.x1 - e.x0 + 1, e.y1 - e.y0 + 1}},
                        {"iscrowd", 0}});
  }
  record.annotation_json =
      nlohmann::json{{"image_id", image_id}, {"file_name", file_name}, {"segments_info", segments}}.dump();
  return record;
}

std::string coco_panoptic_categories_json(const std::vector<std::string>& labels, const std::vector<int>& stuff_labels) {
  nlohmann::json categories = nlohmann::json::array();
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool stuff = std::count(stuff_labels.begin(), stuff_labels.end(), static_cast<int>(i)) > 0;
    categories.push_back({{"id", i}, {"name", labels[i]}, {"isthing", stuff ? 0 : 1}});
  }
  return categories.dump();
}

Image render_segmentation_overlay(const Image& image, const Segmentation& s) {
  require_size(s, "overlay");
  if (s.width != image.width || s.height != image.height) throw Error("overlay: segmentation and image sizes differ");
  Image out = image;
  for (size_t i = 0; i < s.ids.size(); ++i) {
    if (s.ids[i] < 0 || (s.task == SegmentationTask::Panoptic && s.ids[i] == 0)) continue;
    const auto color = mask_color(static_cast<size_t>(s.ids[i]));
    for (int c = 0; c < 3; ++c)
      out.rgb[3 * i + c] = static_cast<uint8_t>((out.rgb[3 * i + c] + color[c] + 1) / 2);
  }
  return out;
}

}  // namespace segkit
