// Image decoding as upstream SAM sees images through PIL: RGB, EXIF orientation applied,
// grey expanded, alpha dropped; and refusal of empty, corrupt and oversized files.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "segkit/error.h"
#include "segkit/image.h"

using namespace segkit;

namespace {
std::vector<uint8_t> encode(const cv::Mat& m, const char* ext) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, m, out));
  return out;
}
}  // namespace

TEST(ImageIo, GreyIsExpandedAndAlphaDropped) {
  cv::Mat grey(3, 4, CV_8UC1, cv::Scalar(77));
  auto g = encode(grey, ".png");
  Image a = decode_image(g.data(), g.size(), "grey.png");
  ASSERT_EQ(a.width, 4);
  ASSERT_EQ(a.height, 3);
  for (uint8_t v : a.rgb) EXPECT_EQ(v, 77);

  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // fully transparent: colour must survive
  auto r = encode(bgra, ".png");
  Image b = decode_image(r.data(), r.size(), "rgba.png");
  EXPECT_EQ(b.rgb[0], 30);
  EXPECT_EQ(b.rgb[1], 20);
  EXPECT_EQ(b.rgb[2], 10);
}

TEST(ImageIo, ExifOrientationIsApplied) {
  cv::Mat m(20, 40, CV_8UC3, cv::Scalar(0, 0, 255));  // 40 wide, 20 high; left red, right blue
  m(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0));
  std::vector<uint8_t> jpg = encode(m, ".jpg");
  // APP1 Exif segment with Orientation = 6 (rotate 90° clockwise to display), after SOI.
  const uint8_t exif[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 0x2A, 0, 0, 0, 8,
                          0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  jpg.insert(jpg.begin() + 2, std::begin(exif), std::end(exif));
  Image img = decode_image(jpg.data(), jpg.size(), "rotated.jpg");
  ASSERT_EQ(img.width, 20);
  ASSERT_EQ(img.height, 40);
  // After a clockwise turn the left (red) half is on top.
  EXPECT_GT(img.pixel(10, 5)[0], 200);
  EXPECT_LT(img.pixel(10, 5)[2], 60);
  EXPECT_GT(img.pixel(10, 35)[2], 200);
}

TEST(ImageIo, RefusesEmptyCorruptAndOversizedImages) {
  EXPECT_THROW(decode_image(nullptr, 0, "empty.png"), Error);
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_THROW(decode_image(junk, sizeof junk, "junk.png"), Error);

  cv::Mat m(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  auto png = encode(m, ".png");
  auto truncated = std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2);
  EXPECT_THROW(decode_image(truncated.data(), truncated.size(), "truncated.png"), Error);

  // A header that claims 50000×50000 pixels is refused before anything is decoded.
  auto bomb = png;
  const uint8_t big[] = {0x00, 0x00, 0xC3, 0x50};
  std::copy(big, big + 4, bomb.begin() + 16);
  std::copy(big, big + 4, bomb.begin() + 20);
  try {
    decode_image(bomb.data(), bomb.size(), "bomb.png");
    FAIL() << "accepted a decompression bomb";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  }
  ImageLimits tight;
  tight.max_pixels = 10;
  EXPECT_THROW(decode_image(png.data(), png.size(), "small-limit.png", tight), Error);
}
