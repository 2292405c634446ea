#include "formats/coco_segmentation.h"

#include "segkit/error.h"

namespace segkit {

namespace {

std::vector<double> numbers(const nlohmann::json& list, const std::string& context) {
  std::vector<double> out;
  for (const auto& v : list) {
    if (!v.is_number()) fail(context, "polygon or box coordinates must be numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

int64_t size_entry(const nlohmann::json& seg, int i, const std::string& context) {
  const auto& size = seg.at("size");
  if (!size.is_array() || size.size() != 2 || !size[i].is_number_integer() || size[i].get<int64_t>() < 0)
    fail(context, "RLE \"size\" must be [height, width]");
  return size[i].get<int64_t>();
}

}  // namespace

Rle rle_from_coco_segmentation(const nlohmann::json& seg, int64_t height, int64_t width, const std::string& context) {
  try {
    if (seg.is_array()) {
      // frPyObjects: the first element decides; exactly 4 numbers means a list of boxes.
      if (seg.empty() || !seg[0].is_array()) fail(context, "segmentation must be a non-empty list of polygons");
      const size_t first = seg[0].size();
      if (first < 4) fail(context, "polygon with fewer than 3 points");
      std::vector<Rle> parts;
      for (const auto& part : seg) {
        if (!part.is_array()) fail(context, "segmentation must be a list of polygons");
        const std::vector<double> xy = numbers(part, context);
        if (first == 4) {
          if (xy.size() < 4) fail(context, "box must have 4 numbers");
          parts.push_back(rle_from_bbox({xy[0], xy[1], xy[2], xy[3]}, height, width));
        } else {
          parts.push_back(rle_from_polygon(xy, height, width));
        }
      }
      return rle_merge(parts);
    }
    if (seg.is_object() && seg.contains("counts") && seg.contains("size")) {
      const int64_t h = size_entry(seg, 0, context), w = size_entry(seg, 1, context);
      const auto& counts = seg.at("counts");
      if (counts.is_string()) return rle_from_string(counts.get<std::string>(), h, w);
      if (counts.is_array()) {
        std::vector<uint32_t> runs;
        for (const auto& c : counts) {
          if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<int64_t>() > UINT32_MAX)
            fail(context, "uncompressed RLE counts must be non-negative integers");
          runs.push_back(static_cast<uint32_t>(c.get<int64_t>()));
        }
        return rle_from_uncompressed(std::move(runs), h, w);
      }
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(context, 0) == 0) throw;
    fail(context, what);
  }
  fail(context, "segmentation is neither a polygon list nor an RLE object with \"counts\" and \"size\"");
}

}  // namespace segkit
