#pragma once
// The automatic-mask-generator goldens (tests/data/sam-tiny/amg/<image>.<setting>.json, upstream
// SamAutomaticMaskGenerator): their parameters, and the comparison of records with them, shared
// by the library tests and the `segkit generate` end-to-end tests.
#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segkit/files.h"
#include "segkit/rle.h"
#include "segkit/sam_generator.h"
#include "test_util.h"

namespace segkit::test {

struct AmgGolden {
  std::string image, setting;
};

inline std::vector<AmgGolden> all_amg_goldens() {
  std::vector<AmgGolden> all;
  for (const char* image : {"truck_small", "groceries_tall"})
    for (const char* setting : {"grid8_no_nms", "grid16_nms", "crops1", "min_region"}) all.push_back({image, setting});
  return all;
}

inline nlohmann::json load_amg_golden(const AmgGolden& g) {
  return nlohmann::json::parse(read_text_file(data_path("sam-tiny/amg/" + g.image + "." + g.setting + ".json")));
}

// Every parameter the golden names (the others keep upstream's defaults).
inline SamGeneratorParams generator_params_from_json(const nlohmann::json& j) {
  SamGeneratorParams p;
  for (const auto& f : sam_generator_param_fields()) {
    if (!j.contains(f.name)) continue;
    if (f.int_member) p.*f.int_member = j.at(f.name).get<int>();
    else p.*f.double_member = j.at(f.name).get<double>();
  }
  return p;
}

// A record in upstream's uncompressed-RLE JSON form (what `segkit generate --output-mode
// uncompressed_rle` writes and the goldens hold) as the library's record.
inline SamMaskRecord mask_record_from_json(const nlohmann::json& j) {
  SamMaskRecord r;
  r.segmentation.height = j.at("segmentation").at("size").at(0);
  r.segmentation.width = j.at("segmentation").at("size").at(1);
  r.segmentation.counts = j.at("segmentation").at("counts").get<std::vector<uint32_t>>();
  r.area = j.at("area");
  r.predicted_iou = j.at("predicted_iou");
  r.stability_score = j.at("stability_score");
  r.point_coords = {j.at("point_coords").at(0).at(0), j.at("point_coords").at(0).at(1)};
  for (size_t k = 0; k < 4; ++k) {
    r.bbox[k] = j.at("bbox").at(k);
    r.crop_box[k] = j.at("crop_box").at(k);
  }
  return r;
}

// Mask for mask, in order: IoU ≥ 0.99 with upstream's, scores within 1e-4, the same point and
// crop, boxes within 2 px and areas within 1 %.
inline void expect_records_match_golden(const std::vector<SamMaskRecord>& records, const nlohmann::json& golden) {
  const auto& want = golden.at("annotations");
  ASSERT_EQ(records.size(), want.size());
  ASSERT_EQ(records.size(), golden.at("num_masks").get<size_t>());
  for (size_t i = 0; i < records.size(); ++i) {
    const SamMaskRecord& r = records[i];
    const SamMaskRecord w = mask_record_from_json(want[i]);
    ASSERT_EQ(r.segmentation.height, w.segmentation.height);
    ASSERT_EQ(r.segmentation.width, w.segmentation.width);
    EXPECT_GE(rle_iou(r.segmentation, w.segmentation, false), 0.99) << "mask " << i;
    EXPECT_NEAR(r.predicted_iou, w.predicted_iou, 1e-4) << "mask " << i;
    EXPECT_NEAR(r.stability_score, w.stability_score, 1e-4) << "mask " << i;
    EXPECT_NEAR(r.point_coords[0], w.point_coords[0], 1e-9) << "mask " << i;
    EXPECT_NEAR(r.point_coords[1], w.point_coords[1], 1e-9) << "mask " << i;
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(r.crop_box[k], w.crop_box[k]) << "mask " << i;
      EXPECT_NEAR(double(r.bbox[k]), double(w.bbox[k]), 2.0) << "mask " << i;
    }
    EXPECT_NEAR(double(r.area), double(w.area), 0.01 * double(w.area) + 1) << "mask " << i;
    EXPECT_EQ(uint64_t(r.area), rle_area(r.segmentation));
  }
}

}  // namespace segkit::test
