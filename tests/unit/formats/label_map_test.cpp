// Label-map PNG I/O: 8/16-bit round trips and the refusals that keep labels from being misread.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "segkit/error.h"
#include "segkit/label_map.h"
#include "test_util.h"

namespace {

TEST(LabelMap, RoundTripsEightAndSixteenBit) {
  segkit::test::TempDir dir;
  const std::vector<uint16_t> small = {0, 1, 254, 255, 7, 3};
  segkit::save_label_png(dir.file("a.png"), small.data(), 3, 2);
  const auto a = segkit::load_label_png(dir.file("a.png"));
  EXPECT_EQ(a.bit_depth, 8);
  EXPECT_EQ(a.width, 3);
  EXPECT_EQ(a.height, 2);
  EXPECT_EQ(a.labels, small);
  const std::vector<uint16_t> wide = {0, 256, 65535, 300, 1, 2};
  segkit::save_label_png(dir.file("b.png"), wide.data(), 2, 3);
  const auto b = segkit::load_label_png(dir.file("b.png"));
  EXPECT_EQ(b.bit_depth, 16);
  EXPECT_EQ(b.labels, wide);
}

TEST(LabelMap, RefusesColourTruncatedAndMissingFiles) {
  segkit::test::TempDir dir;
  cv::Mat rgb(2, 2, CV_8UC3, cv::Scalar(1, 2, 3));
  ASSERT_TRUE(cv::imwrite(dir.file("rgb.png"), rgb));
  EXPECT_THROW(segkit::load_label_png(dir.file("rgb.png")), segkit::Error);
  const std::vector<uint16_t> labels(64, 3);
  segkit::save_label_png(dir.file("t.png"), labels.data(), 8, 8);
  std::ifstream in(dir.file("t.png"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.file("t.png"), std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  try {
    segkit::load_label_png(dir.file("t.png"));
    ADD_FAILURE() << "truncated PNG accepted";
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.png: truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(segkit::load_label_png(dir.file("missing.png")), segkit::Error);
}

}  // namespace
