// COCO RLE against pycocotools: every "rle" case of the metric fixtures, plus malformed input.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "metric_fixtures.h"
#include "segkit/error.h"
#include "segkit/rle.h"

namespace {

using nlohmann::json;
using segkit::Rle;
using segkit::test::MetricCase;

std::vector<uint8_t> load_mask(const std::string& path, int64_t& h, int64_t& w) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  EXPECT_FALSE(m.empty()) << path;
  EXPECT_EQ(m.type(), CV_8UC1) << path;
  h = m.rows;
  w = m.cols;
  std::vector<uint8_t> out(static_cast<size_t>(h * w));
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) out[static_cast<size_t>(y * w + x)] = m.at<uint8_t>(y, x) != 0;
  return out;
}

Rle rle_of(const json& record) {
  return segkit::rle_from_string(record.at("counts").get<std::string>(), record.at("size")[0], record.at("size")[1]);
}

void expect_record(const Rle& got, const json& want, const std::string& what) {
  EXPECT_EQ(got.height, want.at("size")[0].get<int64_t>()) << what;
  EXPECT_EQ(got.width, want.at("size")[1].get<int64_t>()) << what;
  EXPECT_EQ(segkit::rle_to_string(got), want.at("counts").get<std::string>()) << what;
  EXPECT_EQ(got.counts, want.at("counts_uncompressed").get<std::vector<uint32_t>>()) << what;
  EXPECT_EQ(segkit::rle_area(got), want.at("area").get<uint64_t>()) << what;
  const auto bb = segkit::rle_bbox(got);
  const auto want_bb = want.at("bbox").get<std::vector<double>>();
  ASSERT_EQ(want_bb.size(), 4u) << what;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bb[i], want_bb[i]) << what << " bbox[" << i << "]";
}

class RleFixture : public ::testing::TestWithParam<MetricCase> {};

TEST_P(RleFixture, MasksEncodeDecodeAreaBbox) {
  const MetricCase& c = GetParam();
  for (const json& m : c.json.at("masks")) {
    const std::string file = m.at("file");
    int64_t h = 0, w = 0;
    const auto mask = load_mask(c.dir + file, h, w);
    const Rle enc = segkit::rle_encode(mask.data(), h, w);
    expect_record(enc, m, file + " encode");
    const Rle parsed = rle_of(m);
    EXPECT_EQ(parsed.counts, enc.counts) << file << " from string";
    EXPECT_EQ(segkit::rle_decode(parsed), mask) << file << " decode";
  }
}

TEST_P(RleFixture, IouMatchesReference) {
  const MetricCase& c = GetParam();
  std::vector<Rle> masks;
  for (const json& m : c.json.at("masks")) masks.push_back(rle_of(m));
  for (const json& q : c.json.at("iou")) {
    std::vector<Rle> dt, gt;
    for (int i : q.at("dt")) dt.push_back(masks.at(i));
    for (int i : q.at("gt")) gt.push_back(masks.at(i));
    const auto crowd = q.at("iscrowd").get<std::vector<uint8_t>>();
    const auto got = segkit::rle_iou_matrix(dt, gt, crowd);
    const json& want = q.at("expected");
    ASSERT_EQ(got.size(), want.size());
    for (size_t d = 0; d < got.size(); ++d)
      for (size_t g = 0; g < gt.size(); ++g)
        segkit::test::expect_metric_near(want[d][g], got[d][g], "iou[" + std::to_string(d) + "][" + std::to_string(g) + "]");
  }
}

TEST_P(RleFixture, MergeMatchesReference) {
  const MetricCase& c = GetParam();
  std::vector<Rle> masks;
  for (const json& m : c.json.at("masks")) masks.push_back(rle_of(m));
  for (const json& q : c.json.at("merge")) {
    std::vector<Rle> in;
    for (int i : q.at("masks")) in.push_back(masks.at(i));
    const bool intersect = q.at("intersect");
    expect_record(segkit::rle_merge(in, intersect), q.at("expected"), "merge " + q.at("masks").dump());
  }
}

TEST_P(RleFixture, FromObjectsMatchesReference) {
  const MetricCase& c = GetParam();
  if (!c.json.contains("from_objects")) return;
  for (const json& obj : c.json.at("from_objects")) {
    const std::string type = obj.at("type");
    const int64_t h = obj.at("height"), w = obj.at("width");
    const json& input = obj.at("input");
    const json& want = obj.at("expected");
    ASSERT_EQ(input.size(), want.size()) << type;
    std::vector<Rle> got;
    for (size_t i = 0; i < input.size(); ++i) {
      if (type == "polygon") {
        got.push_back(segkit::rle_from_polygon(input[i].get<std::vector<double>>(), h, w));
      } else if (type == "bbox") {
        const auto b = input[i].get<std::vector<double>>();
        got.push_back(segkit::rle_from_bbox({b[0], b[1], b[2], b[3]}, h, w));
      } else {
        ASSERT_EQ(type, "uncompressed_rle");
        got.push_back(segkit::rle_from_uncompressed(input[i].at("counts").get<std::vector<uint32_t>>(),
                                                    input[i].at("size")[0], input[i].at("size")[1]));
      }
      expect_record(got.back(), want[i], type + " " + input[i].dump());
    }
    if (obj.contains("merged")) {
      const json& merged = obj.at("merged");
      const Rle u = segkit::rle_merge(got);
      expect_record(u, merged, "merged " + input.dump());
      int64_t mh = 0, mw = 0;
      EXPECT_EQ(segkit::rle_decode(u), load_mask(c.dir + merged.at("file").get<std::string>(), mh, mw));
    }
  }
  for (const json& q : c.json.value("box_iou", json::array())) {
    const auto crowd = q.at("iscrowd").get<std::vector<int>>();
    for (size_t d = 0; d < q.at("dt").size(); ++d)
      for (size_t g = 0; g < q.at("gt").size(); ++g) {
        const auto a = q.at("dt")[d].get<std::vector<double>>(), b = q.at("gt")[g].get<std::vector<double>>();
        const double got = segkit::box_iou({a[0], a[1], a[2], a[3]}, {b[0], b[1], b[2], b[3]}, crowd[g] != 0);
        segkit::test::expect_metric_near(q.at("expected")[d][g], got, "box iou " + std::to_string(d) + "," + std::to_string(g));
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RleFixture, ::testing::ValuesIn(segkit::test::load_metric_cases("rle")),
                         segkit::test::metric_case_name);

TEST(Rle, FixturesHaveRleCases) { EXPECT_GE(segkit::test::load_metric_cases("rle").size(), 1u); }

TEST(Rle, RejectsMalformedCounts) {
  EXPECT_THROW(segkit::rle_from_string("92203", 4, 4), segkit::Error);   // 20 pixels in a 16-pixel mask
  EXPECT_THROW(segkit::rle_from_string("9220", 4, 5), segkit::Error);    // runs stop short
  EXPECT_THROW(segkit::rle_from_string("92 03", 4, 5), segkit::Error);   // character outside the alphabet
  EXPECT_THROW(segkit::rle_from_string("922o", 4, 5), segkit::Error);    // 'o' continues past the end
  EXPECT_THROW(segkit::rle_from_string("92203", -1, 5), segkit::Error);
  EXPECT_NO_THROW(segkit::rle_from_string("92203", 4, 5));
}

TEST(Rle, EncodeHandlesWideMasksAcrossColumnBlocks) {
  // 3×150 with a diagonal and a full column: crosses the encoder's 64-column blocks.
  const int64_t h = 3, w = 150;
  std::vector<uint8_t> mask(h * w, 0);
  for (int64_t x = 0; x < w; ++x) mask[(x % h) * w + x] = 7;
  for (int64_t y = 0; y < h; ++y) mask[y * w + 64] = 1;
  const Rle r = segkit::rle_encode(mask.data(), h, w);
  uint64_t sum = 0;
  for (auto c : r.counts) sum += c;
  EXPECT_EQ(sum, 450u);
  EXPECT_EQ(segkit::rle_area(r), 152u);
  std::vector<uint8_t> ones(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) ones[i] = mask[i] != 0;
  EXPECT_EQ(segkit::rle_decode(r), ones);
  EXPECT_EQ(segkit::rle_from_string(segkit::rle_to_string(r), h, w).counts, r.counts);
}

TEST(Rle, DifferentSizesFollowPycocotools) {
  // 4x5 mask (rows 1-2, cols 2-3) against 6x6 masks: overlapping boxes give -1, disjoint 0.
  const Rle a = segkit::rle_from_string("92203", 4, 5);
  std::vector<uint8_t> big(36, 0), corner(36, 0);
  big[1 * 6 + 2] = 1;
  corner[5 * 6 + 5] = 1;
  const Rle b = segkit::rle_encode(big.data(), 6, 6), c = segkit::rle_encode(corner.data(), 6, 6);
  EXPECT_EQ(segkit::rle_iou(a, b, false), -1);
  EXPECT_EQ(segkit::rle_iou(a, c, false), 0);
  const Rle m = segkit::rle_merge({a, b});
  EXPECT_EQ(m.height, 0);
  EXPECT_EQ(m.width, 0);
  EXPECT_EQ(segkit::rle_to_string(m), "");
  // Empty masks: IoU 0, never NaN, crowd or not.
  const Rle empty = segkit::rle_from_string(segkit::rle_to_string(Rle{4, 5, {20}}), 4, 5);
  EXPECT_EQ(segkit::rle_iou(empty, empty, false), 0);
  EXPECT_EQ(segkit::rle_iou(a, empty, true), 0);
  EXPECT_EQ(segkit::rle_iou(a, a, true), 1);
}

TEST(Rle, EncodeMatchesColumnWalkOnRandomMasks) {
  // The encoder compares rows word by word; check it against the plain column-major walk on
  // masks of every small shape (word tails, single rows/columns) and arbitrary nonzero values.
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int64_t h = 1; h <= 19; h += 3)
    for (int64_t w = 1; w <= 37; w += 4)
      for (int density = 0; density < 3; ++density) {
        std::vector<uint8_t> mask(static_cast<size_t>(h * w));
        for (auto& v : mask) v = (next() >> 24) % 4 < static_cast<uint32_t>(density + 1) ? 0 : static_cast<uint8_t>(next() >> 24);
        std::vector<uint32_t> want;
        uint8_t p = 0;
        uint32_t c = 0;
        for (int64_t x = 0; x < w; ++x)
          for (int64_t y = 0; y < h; ++y) {
            const uint8_t v = mask[static_cast<size_t>(y * w + x)] != 0;
            if (v != p) want.push_back(c), c = 0, p = v;
            ++c;
          }
        want.push_back(c);
        EXPECT_EQ(segkit::rle_encode(mask.data(), h, w).counts, want) << h << "x" << w;
      }
}

}  // namespace
