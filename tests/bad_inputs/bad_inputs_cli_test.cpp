// Every class of bad input from issue 7, run through the CLI as a user would: each row names
// the input, how to make it, the command, and the one-line error expected (or success where
// the input is valid). The files are generated here, into a temporary folder.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "test_util.h"

using namespace segkit;

namespace {

using Bytes = std::string;

Bytes read_bytes(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  return Bytes(b.begin(), b.end());
}

// ---- PNG files the encoders cannot write (0×0, palette): chunks by hand, stored deflate ----
uint32_t crc32(const Bytes& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}
void put_be(Bytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
Bytes chunk(const std::string& type, const Bytes& body) {
  Bytes out;
  put_be(out, static_cast<uint32_t>(body.size()));
  out += type + body;
  put_be(out, crc32(type + body));
  return out;
}
// zlib stream of one stored block (fine for the few bytes used here).
Bytes zlib_stored(const Bytes& raw) {
  Bytes z("\x78\x01\x01", 3);
  const uint16_t n = static_cast<uint16_t>(raw.size());
  z.push_back(static_cast<char>(n & 0xff));
  z.push_back(static_cast<char>(n >> 8));
  z.push_back(static_cast<char>(~n & 0xff));
  z.push_back(static_cast<char>((~n >> 8) & 0xff));
  z += raw;
  uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  put_be(z, (b << 16) | a);
  return z;
}
Bytes png(uint32_t w, uint32_t h, uint8_t colour_type, const Bytes& palette, const Bytes& rows) {
  Bytes ihdr;
  put_be(ihdr, w);
  put_be(ihdr, h);
  ihdr += Bytes{8, static_cast<char>(colour_type), 0, 0, 0};
  Bytes out("\x89PNG\r\n\x1a\n", 8);
  out += chunk("IHDR", ihdr);
  if (!palette.empty()) out += chunk("PLTE", palette);
  return out + chunk("IDAT", zlib_stored(rows)) + chunk("IEND", "");
}

Bytes encoded(const std::string& ext, const cv::Mat& m) {
  std::vector<uint8_t> out;
  cv::imencode(ext, m, out);
  return Bytes(out.begin(), out.end());
}
cv::Mat gradient(int w, int h, int type) {
  cv::Mat m(h, w, type);
  m.forEach<cv::Vec3b>([](cv::Vec3b& p, const int* pos) { p = cv::Vec3b(pos[0] * 7 % 256, pos[1] * 3 % 256, 99); });
  return m;
}

// ---- checkpoints: the tiny SAM with one header field changed --------------------------
Bytes safetensors_with(const std::function<void(nlohmann::json&)>& change) {
  const Bytes src = read_bytes(test::sam_tiny_hf() + "/model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, src.data(), 8);
  nlohmann::json header = nlohmann::json::parse(src.substr(8, n));
  change(header);
  Bytes text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  Bytes out(8, '\0');
  const uint64_t len = text.size();
  std::memcpy(out.data(), &len, 8);
  return out + text + src.substr(8 + n);
}
// The two tensors with the lowest offsets: [0,128) and [128,4224) in the fixture.
std::pair<std::string, std::string> first_two_tensors(const nlohmann::json& h) {
  std::vector<std::pair<uint64_t, std::string>> by_offset;
  for (auto it = h.begin(); it != h.end(); ++it)
    if (it.key() != "__metadata__") by_offset.emplace_back(it.value()["data_offsets"][0].get<uint64_t>(), it.key());
  std::sort(by_offset.begin(), by_offset.end());
  return {by_offset[0].second, by_offset[1].second};
}

struct Row {
  const char* what;
  std::function<Bytes()> make;  // file contents; empty function: no file
  const char* file;             // its name in the temp folder
  enum Use { Image, Model, Point, Box } use;
  const char* arg;              // the prompt text for Point/Box rows
  const char* expect;           // "" = success; else a fragment of the one-line error
};

Bytes good_png() { return encoded(".png", gradient(8, 6, CV_8UC3)); }

const Row kRows[] = {
    // Images (segkit predict -i FILE -p 0,0).
    {"truncated PNG", [] { Bytes b = good_png(); return b.substr(0, b.size() / 2); }, "trunc.png", Row::Image, "",
     "truncated PNG"},
    {"PNG with a corrupt chunk", [] { Bytes b = good_png(); b[40] ^= 0x55; return b; }, "crc.png", Row::Image, "",
     "CRC mismatch"},
    {"truncated JPEG", [] { Bytes b = encoded(".jpg", gradient(64, 48, CV_8UC3)); return b.substr(0, 100); },
     "trunc.jpg", Row::Image, "", "truncated JPEG"},
    {"JPEG cut in its scan data", [] { Bytes b = encoded(".jpg", gradient(64, 48, CV_8UC3)); return b.substr(0, b.size() * 6 / 10); },
     "scan.jpg", Row::Image, "", "truncated JPEG"},
    {"JPEG without its end marker", [] { Bytes b = encoded(".jpg", gradient(64, 48, CV_8UC3)); return b.substr(0, b.size() - 2); },
     "noend.jpg", Row::Image, "", "truncated JPEG"},
    {"truncated WebP", [] { Bytes b = encoded(".webp", gradient(64, 48, CV_8UC3)); return b.substr(0, b.size() / 2); },
     "trunc.webp", Row::Image, "", "truncated WebP"},
    {"truncated TIFF", [] { Bytes b = encoded(".tiff", gradient(64, 48, CV_8UC3)); return b.substr(0, b.size() / 2); },
     "trunc.tiff", Row::Image, "", "truncated TIFF"},
    {"truncated BMP", [] { Bytes b = encoded(".bmp", gradient(64, 48, CV_8UC3)); return b.substr(0, b.size() / 2); },
     "trunc.bmp", Row::Image, "", "truncated BMP"},
    {"not an image", [] { return Bytes("hello, world"); }, "text.jpg", Row::Image, "", "cannot decode image"},
    {"empty file", [] { return Bytes(); }, "empty.png", Row::Image, "", "empty file, not an image"},
    {"0x0 PNG", [] { return png(0, 0, 2, "", ""); }, "zero.png", Row::Image, "", "zero width or height"},
    {"PNG over the pixel limit (header only)", [] { return png(20000, 20000, 0, "", Bytes(1, '\0')); }, "bomb.png",
     Row::Image, "", "more than the limit of 100000000 pixels"},
    {"1x1 PNG", [] { return encoded(".png", gradient(1, 1, CV_8UC3)); }, "one.png", Row::Image, "", ""},
    {"65535x1 PNG", [] { return encoded(".png", gradient(65535, 1, CV_8UC3)); }, "wide.png", Row::Image, "", ""},
    {"16-bit PNG", [] { cv::Mat m(5, 7, CV_16UC3, cv::Scalar(1000, 30000, 65535)); return encoded(".png", m); },
     "deep.png", Row::Image, "", ""},
    {"palette PNG", [] { return png(2, 2, 3, Bytes("\xff\0\0\0\xff\0", 6), Bytes("\0\0\1\0\1\0", 6)); },
     "palette.png", Row::Image, "", ""},
    {"non-UTF-8 file name", [] { return good_png(); }, "\xff\xfe.png", Row::Image, "", ""},
    {"missing file with a non-UTF-8 name", nullptr, "\xffmissing.png", Row::Image, "", "cannot open"},
    // Checkpoints (segkit predict -m FILE).
    {"truncated safetensors", [] { Bytes b = read_bytes(test::sam_tiny_hf() + "/model.safetensors"); return b.substr(0, b.size() / 2); },
     "trunc.safetensors", Row::Model, "", "outside the data"},
    {"safetensors header length larger than the file",
     [] { Bytes b = read_bytes(test::sam_tiny_hf() + "/model.safetensors"); const uint64_t n = b.size(); std::memcpy(&b[0], &n, 8); return b; },
     "hdrlen.safetensors", Row::Model, "", "exceeds the file size"},
    {"safetensors with overlapping offsets",
     [] { return safetensors_with([](nlohmann::json& h) { auto t = first_two_tensors(h); h[t.second]["data_offsets"] = {64, 4160}; }); },
     "overlap.safetensors", Row::Model, "", "tensor data ranges overlap"},
    {"safetensors with out-of-range offsets",
     [] { return safetensors_with([](nlohmann::json& h) { auto t = first_two_tensors(h); h[t.first]["data_offsets"] = {1000000000, 1000000128}; }); },
     "oor.safetensors", Row::Model, "", "outside the data"},
    {"safetensors with a wrong dtype (I32 weights)",
     [] { return safetensors_with([](nlohmann::json& h) { h[first_two_tensors(h).first]["dtype"] = "I32"; }); },
     "dtype.safetensors", Row::Model, "", "has dtype I32, expected floating point weights"},
    {"safetensors with a negative size",
     [] { return safetensors_with([](nlohmann::json& h) { h[first_two_tensors(h).first]["shape"] = {-32}; }); },
     "neg.safetensors", Row::Model, "", "negative or non-integer dimension"},
    {"safetensors with a size overflowing int64",
     [] { return safetensors_with([](nlohmann::json& h) { h[first_two_tensors(h).first]["shape"] = {uint64_t(1) << 62, 4}; }); },
     "huge.safetensors", Row::Model, "", "impossibly large"},
    {"truncated .pth", [] { Bytes b = read_bytes(test::sam_tiny_pth()); return b.substr(0, b.size() / 2); },
     "trunc.pth", Row::Model, "", "truncated or not a zip archive"},
    {"corrupt .pth (not a zip)", [] { return Bytes("\x80\x02}q\x00.", 6); }, "legacy.pth", Row::Model, "",
     "unsupported legacy format"},
    // Prompts (segkit predict -p/-b TEXT on a valid image).
    {"NaN in a point", nullptr, "", Row::Point, "nan,1", "expected comma-separated finite numbers"},
    {"Inf in a point", nullptr, "", Row::Point, "1,inf", "expected comma-separated finite numbers"},
    {"float overflow in a point", nullptr, "", Row::Point, "1e39,2", "expected comma-separated finite numbers"},
    {"point outside the image", nullptr, "", Row::Point, "-5,-5", "is outside the 8x6 image"},
    {"Inf in a box", nullptr, "", Row::Box, "1,2,inf,4", "expected comma-separated finite numbers"},
    {"box with a negative size", nullptr, "", Row::Box, "5,5,1,1", "needs X1 >= X0 and Y1 >= Y0"},
    {"trailing comma in a point", nullptr, "", Row::Point, "3,2,", "ends with a comma"},
    {"box that misses the image", nullptr, "", Row::Box, "20,20,30,30", "lies outside the 8x6 image"},
    {"box reaching past an edge", nullptr, "", Row::Box, "-2,-2,30,30", ""},
    {"valid point", nullptr, "", Row::Point, "3,2", ""},
};

}  // namespace

// One test per row, so that ctest runs them in parallel and names the failing input.
class BadInputs : public ::testing::TestWithParam<size_t> {};

TEST_P(BadInputs, GivesItsOneLineErrorOrSucceeds) {
  test::TempDir dir;
  const std::string valid_image = dir.file("valid.png");
  write_text_atomically(valid_image, good_png());
  {
    const Row& row = kRows[GetParam()];
    SCOPED_TRACE(row.what);
    const std::string file = row.file[0] ? dir.file(row.file) : "";
    if (row.make) write_text_atomically(file, row.make());
    std::vector<std::string> args = {"predict", "-m", test::sam_tiny_hf(), "-i", valid_image, "-p", "0,0",
                                     "-o", dir.file("out\xff.json")};
    switch (row.use) {
      case Row::Image: args[4] = file; break;
      case Row::Model: args[2] = file; break;
      case Row::Point: args[6] = row.arg; break;
      case Row::Box: args[5] = "-b"; args[6] = row.arg; break;
    }
    std::remove(dir.file("out\xff.json").c_str());
    const test::CliResult r = test::run_cli(args);
    if (!*row.expect) {
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(std::ifstream(dir.file("out\xff.json")).good());
      return;
    }
    EXPECT_EQ(r.exit_code, 1) << r.err;  // 1: a reported error, never a crash (>= 128) or internal error (3)
    EXPECT_EQ(r.err.rfind("segkit: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(row.expect), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "error should be one line: " << r.err;
    if (row.use == Row::Image || row.use == Row::Model) EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_FALSE(std::ifstream(dir.file("out\xff.json")).good()) << "no output after an error";
  }
}

std::string row_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name;
  for (const char* c = kRows[info.param].what; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return std::to_string(info.param) + "_" + name;
}
INSTANTIATE_TEST_SUITE_P(Table, BadInputs, ::testing::Range(size_t(0), std::size(kRows)), row_name);

TEST(BadInputsLimits, MaxPixelsOptionAndEnvironmentLowerTheLimit) {
  test::TempDir dir;
  write_text_atomically(dir.file("img.png"), good_png());  // 8x6 = 48 pixels
  auto r = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", dir.file("img.png"), "-o", dir.file("e.safetensors"),
                          "--max-pixels", "47"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("image is 8x6, more than the limit of 47 pixels"), std::string::npos) << r.err;
  r = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", dir.file("img.png"), "-o", dir.file("e.safetensors"),
                     "--max-pixels", "48"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The environment variable, for every command (and a bad value is an error, not ignored).
  ::setenv("SEGKIT_MAX_PIXELS", "40", 1);
  r = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", dir.file("img.png"), "-o", dir.file("e.safetensors")});
  EXPECT_NE(r.err.find("more than the limit of 40 pixels"), std::string::npos) << r.err;
  ::setenv("SEGKIT_MAX_PIXELS", "lots", 1);
  r = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", dir.file("img.png"), "-o", dir.file("e.safetensors")});
  EXPECT_NE(r.err.find("SEGKIT_MAX_PIXELS: 'lots' is not a positive pixel count"), std::string::npos) << r.err;
  ::unsetenv("SEGKIT_MAX_PIXELS");
}
