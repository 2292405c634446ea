// Image decoding as upstream SAM sees images through PIL: RGB, EXIF orientation applied,
// grey expanded, alpha dropped; and refusal of empty, corrupt and oversized files.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

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

namespace {

cv::Mat gradient(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  m.forEach<cv::Vec3b>([](cv::Vec3b& p, const int* pos) { p = cv::Vec3b(pos[0] * 7 % 256, pos[1] * 3 % 256, 99); });
  return m;
}

struct Encoded {
  std::string name;
  std::vector<uint8_t> bytes;
};

// One file per format and flavour segkit reads, as other programs write them.
std::vector<Encoded> every_format() {
  const cv::Mat m = gradient(96, 64);
  std::vector<Encoded> all;
  auto add = [&](const std::string& name, const std::vector<int>& params) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(cv::imencode(name.substr(name.rfind('.')), m, out, params)) << name;
    all.push_back({name, out});
  };
  add("baseline.jpg", {});
  add("progressive.jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  add("restarts.jpg", {cv::IMWRITE_JPEG_RST_INTERVAL, 2});
  add("image.png", {});
  add("lossy.webp", {cv::IMWRITE_WEBP_QUALITY, 80});
  add("lossless.webp", {cv::IMWRITE_WEBP_QUALITY, 101});
  add("image.tiff", {});
  add("image.bmp", {});
  return all;
}

}  // namespace

// A file cut anywhere is refused naming the file and what is wrong, as Pillow refuses it
// ("image file is truncated"), instead of decoding grey or black where the data ended.
TEST(ImageIo, RefusesEveryFormatCutShort) {
  for (const Encoded& e : every_format()) {
    EXPECT_NO_THROW(decode_image(e.bytes.data(), e.bytes.size(), e.name)) << e.name;
    for (const double fraction : {0.3, 0.5, 0.7, 0.9}) {
      for (const size_t keep : {size_t(double(e.bytes.size()) * fraction), e.bytes.size() - 1, e.bytes.size() - 2}) {
        if (keep < 16) continue;
        try {
          decode_image(e.bytes.data(), keep, e.name);
          ADD_FAILURE() << e.name << " cut to " << keep << " of " << e.bytes.size() << " bytes was accepted";
        } catch (const Error& error) {
          const std::string message = error.what();
          EXPECT_EQ(message.rfind(e.name + ": ", 0), 0u) << message;
          EXPECT_NE(message.find("truncated"), std::string::npos) << message;
          EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        }
      }
    }
  }
}

TEST(ImageIo, AcceptsWhatFollowsTheEndAndSegmentsThatHoldMarkers) {
  const cv::Mat m = gradient(40, 30);
  std::vector<uint8_t> jpg = encode(m, ".jpg");
  std::vector<uint8_t> trailing = jpg;
  trailing.insert(trailing.end(), {0x00, 0x11, 0xFF, 0x22});  // cameras append such bytes
  EXPECT_NO_THROW(decode_image(trailing.data(), trailing.size(), "trailing.jpg"));
  // A thumbnail (a whole JPEG, end marker included) inside an APP1 segment ends nothing.
  std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0};
  app1.insert(app1.end(), jpg.begin(), jpg.end());
  app1[2] = uint8_t((app1.size() - 2) >> 8);
  app1[3] = uint8_t((app1.size() - 2) & 0xFF);
  std::vector<uint8_t> with_thumbnail = jpg;
  with_thumbnail.insert(with_thumbnail.begin() + 2, app1.begin(), app1.end());
  EXPECT_NO_THROW(decode_image(with_thumbnail.data(), with_thumbnail.size(), "thumbnail.jpg"));
  std::vector<uint8_t> cut = with_thumbnail;
  cut.resize(app1.size() + jpg.size() / 2);
  EXPECT_THROW(decode_image(cut.data(), cut.size(), "thumbnail.jpg"), Error);
}

TEST(ImageIo, AllowTruncatedDecodesWhatIsThereWithAWarning) {
  std::vector<uint8_t> jpg = encode(gradient(96, 64), ".jpg");
  jpg.resize(jpg.size() * 6 / 10);
  ImageLimits limits;
  EXPECT_FALSE(limits.allow_truncated) << "refusing is the default";
  limits.allow_truncated = true;
  testing::internal::CaptureStderr();
  Image image;
  EXPECT_NO_THROW(image = decode_image(jpg.data(), jpg.size(), "cut.jpg", limits));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(image.width, 96);
  EXPECT_EQ(image.height, 64);
  EXPECT_EQ(err.rfind("segkit: warning: cut.jpg: truncated JPEG", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  // A PNG cut short has nothing a decoder could show: refused even then.
  std::vector<uint8_t> png = encode(gradient(96, 64), ".png");
  png.resize(png.size() / 2);
  EXPECT_THROW(decode_image(png.data(), png.size(), "cut.png", limits), Error);
}

namespace {

// An APP1 Exif segment holding one Orientation entry, after SOI.
std::vector<uint8_t> with_orientation(std::vector<uint8_t> jpg, uint8_t orientation) {
  const uint8_t exif[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0,
                          1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0, 0, 0, 0};
  jpg.insert(jpg.begin() + 2, std::begin(exif), std::end(exif));
  return jpg;
}

}  // namespace

// JPEGs are decoded by libjpeg directly (image/jpeg_decode): the pixels and orientation are what
// OpenCV gave before, bit for bit.
TEST(ImageIo, JpegPixelsAndOrientationEqualOpenCvs) {
  const cv::Mat colour = gradient(37, 23);
  cv::Mat grey;
  cv::extractChannel(colour, grey, 1);
  struct Flavour {
    const char* name;
    cv::Mat image;
    std::vector<int> params;
  };
  const Flavour flavours[] = {{"baseline", colour, {}},
                              {"progressive", colour, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
                              {"restart markers", colour, {cv::IMWRITE_JPEG_RST_INTERVAL, 1}},
                              {"chroma quality", colour, {cv::IMWRITE_JPEG_CHROMA_QUALITY, 30}},
                              {"grey", grey, {}}};
  for (const Flavour& f : flavours) {
    std::vector<uint8_t> jpg;
    ASSERT_TRUE(cv::imencode(".jpg", f.image, jpg, f.params));
    for (uint8_t orientation = 1; orientation <= 8; ++orientation) {
      const std::vector<uint8_t> bytes = with_orientation(jpg, orientation);
      const cv::Mat want = cv::imdecode(bytes, cv::IMREAD_COLOR);
      const Image got = decode_image(bytes.data(), bytes.size(), "x.jpg");
      ASSERT_EQ(got.width, want.cols) << f.name << " orientation " << int(orientation);
      ASSERT_EQ(got.height, want.rows) << f.name << " orientation " << int(orientation);
      cv::Mat want_rgb;
      cv::cvtColor(want, want_rgb, cv::COLOR_BGR2RGB);
      EXPECT_EQ(std::memcmp(got.rgb.data(), want_rgb.data, got.rgb.size()), 0) << f.name << " orientation " << int(orientation);
    }
  }
}

// Damage libjpeg decodes past (it would print "Corrupt JPEG data: ..." and fill in grey) is
// refused in one line, and nothing else reaches stderr.
TEST(ImageIo, CorruptJpegDataIsRefusedInOneLine) {
  std::vector<uint8_t> jpg = encode(gradient(96, 64), ".jpg");
  std::vector<uint8_t> early_end = jpg;  // an end-of-image marker in the middle of the scan
  early_end[early_end.size() / 2] = 0xFF;
  early_end[early_end.size() / 2 + 1] = 0xD9;
  testing::internal::CaptureStderr();
  try {
    decode_image(early_end.data(), early_end.size(), "marker.jpg");
    ADD_FAILURE() << "a scan cut by a marker was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("marker.jpg: corrupt JPEG (", 0), 0u) << e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  // Bits flipped at random in the scan data: each file is decoded silently or refused in one
  // line, never decoded with a message of libjpeg's.
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<uint8_t> flipped = jpg;
    for (int k = 0; k < 4; ++k) flipped[jpg.size() / 3 + rng() % (jpg.size() / 2)] ^= uint8_t(1u << (rng() % 8));
    testing::internal::CaptureStderr();
    try {
      decode_image(flipped.data(), flipped.size(), "flipped.jpg");
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "trial " << trial;
  }
}

// A BMP header OpenCV would complain about on stderr is refused in one line first.
TEST(ImageIo, BmpOfAnUnknownCompressionIsRefusedQuietly) {
  std::vector<uint8_t> bmp = encode(gradient(8, 6), ".bmp");
  bmp[30] = 7;  // biCompression
  testing::internal::CaptureStderr();
  try {
    decode_image(bmp.data(), bmp.size(), "odd.bmp");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("odd.bmp: corrupt BMP (unknown compression 7)", 0), 0u) << e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}
