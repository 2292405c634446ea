// Writing the mask generator's records the way upstream's users receive them: the record
// dicts as JSON (per output_mode) and scripts/amg.py's folder of PNGs with metadata.csv.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/sam_generator.h"

namespace segkit {

namespace {

nlohmann::ordered_json segmentation_json(const Rle& rle, MaskOutputMode mode) {
  if (mode == MaskOutputMode::BinaryMask) {
    const std::vector<uint8_t> mask = rle_decode(rle);
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (int64_t y = 0; y < rle.height; ++y) {
      rows.push_back(std::vector<bool>(mask.begin() + y * rle.width, mask.begin() + (y + 1) * rle.width));
    }
    return rows;
  }
  nlohmann::ordered_json j;
  j["size"] = {rle.height, rle.width};
  if (mode == MaskOutputMode::CocoRle) j["counts"] = rle_to_string(rle);
  else j["counts"] = rle.counts;
  return j;
}

// Python's str(float): the shortest digits that round-trip, fixed notation for exponents in
// [-4, 16), always with a fractional part or an exponent (as scripts/amg.py's CSV has them).
std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // [-]d[.ddd]e±XX
  const bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(size_t(-exponent - 1), '0') + digits;
    } else if (size_t(exponent) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
    }
  } else {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "") + "e" + (exponent < 0 ? "-" : "+") +
          (std::abs(exponent) < 10 ? "0" : "") + std::to_string(std::abs(exponent));
  }
  return negative ? "-" + out : out;
}

}  // namespace

std::string mask_records_to_json(const std::vector<SamMaskRecord>& records, MaskOutputMode mode) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& r : records) {
    nlohmann::ordered_json j;
    j["segmentation"] = segmentation_json(r.segmentation, mode);
    j["area"] = r.area;
    j["bbox"] = r.bbox;
    j["predicted_iou"] = r.predicted_iou;
    j["point_coords"] = {r.point_coords};
    j["stability_score"] = r.stability_score;
    j["crop_box"] = r.crop_box;
    list.push_back(std::move(j));
  }
  return list.dump();
}

void write_mask_folder(const std::string& folder, const std::vector<SamMaskRecord>& records) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail(folder, "cannot create folder: " + ec.message());
  std::string csv =
      "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
      "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h";
  for (size_t i = 0; i < records.size(); ++i) {
    const SamMaskRecord& r = records[i];
    std::vector<uint8_t> mask = rle_decode(r.segmentation);
    for (auto& v : mask) v = v ? 255 : 0;
    save_png(folder + "/" + std::to_string(i) + ".png", mask.data(), static_cast<int>(r.segmentation.width),
             static_cast<int>(r.segmentation.height), 1);
    csv += "\n" + std::to_string(i) + "," + std::to_string(r.area);
    for (int64_t v : r.bbox) csv += "," + std::to_string(v);
    for (double v : r.point_coords) csv += "," + python_float(v);
    csv += "," + python_float(r.predicted_iou) + "," + python_float(r.stability_score);
    for (int64_t v : r.crop_box) csv += "," + std::to_string(v);
  }
  write_text_atomically(folder + "/metadata.csv", csv);
}

Image render_mask_overlay(const Image& image, const std::vector<SamMaskRecord>& records, double alpha) {
  Image out = image;
  const size_t plane = size_t(image.width) * image.height;
  for (size_t i = 0; i < records.size(); ++i) {
    const Rle& rle = records[i].segmentation;
    if (rle.height != image.height || rle.width != image.width) fail("overlay", "mask size differs from the image");
    // Golden-angle hues: neighbouring ids get clearly different colours.
    const double hue = std::fmod(double(i) * 137.50776, 360.0) / 60.0;
    const double x = 1 - std::fabs(std::fmod(hue, 2.0) - 1);
    double rgb[3] = {0, 0, 0};
    const int sector = static_cast<int>(hue);
    const double table[6][3] = {{1, x, 0}, {x, 1, 0}, {0, 1, x}, {0, x, 1}, {x, 0, 1}, {1, 0, x}};
    for (int c = 0; c < 3; ++c) rgb[c] = 255.0 * table[sector % 6][c];
    const std::vector<uint8_t> mask = rle_decode(rle);
    for (size_t p = 0; p < plane; ++p) {
      if (!mask[p]) continue;
      for (int c = 0; c < 3; ++c) {
        uint8_t& v = out.rgb[p * 3 + size_t(c)];
        v = static_cast<uint8_t>(std::lround((1 - alpha) * v + alpha * rgb[c]));
      }
    }
  }
  return out;
}

}  // namespace segkit
