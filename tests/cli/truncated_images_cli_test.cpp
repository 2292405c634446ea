// Images cut short, through every command that reads one, as a user meets them: one line naming
// the file, exit 1, nothing written; --allow-truncated decodes them with a one-line warning.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "sam_fixtures.h"
#include "segkit/files.h"
#include "test_util.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

// The truck fixture as a JPEG of which only the first 60 % arrived.
std::string write_cut_jpeg(const test::TempDir& dir) {
  Image image = test::sam_case_image(*test::sam_case_file("truck_small"));
  cv::Mat rgb(image.height, image.width, CV_8UC3, image.rgb.data()), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> jpg;
  EXPECT_TRUE(cv::imencode(".jpg", bgr, jpg));
  jpg.resize(jpg.size() * 6 / 10);
  const std::string path = dir.file("cut.jpg");
  write_file_atomically(path, jpg.data(), jpg.size());
  return path;
}

size_t lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(TruncatedImagesCli, EveryCommandRefusesACutJpegNamingIt) {
  test::TempDir dir;
  const std::string cut = write_cut_jpeg(dir), model = test::sam_tiny_hf();
  const std::vector<std::vector<std::string>> commands = {
      {"embed", "-m", model, "-i", cut, "-o", dir.file("out.safetensors")},
      {"predict", "-m", model, "-i", cut, "-p", "10,10", "-o", dir.file("out.json")},
      {"generate", "-m", model, "-i", cut, "-o", dir.file("out.json"), "--points-per-side", "2"},
      {"bench", "-m", model, "-i", cut, "--only", "encoder", "--repeat", "1"},
  };
  for (const auto& args : commands) {
    const auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("segkit: error: " + cut + ": truncated JPEG", 0), 0u) << args[0] << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << args[0] << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir.file("out.json")) || fs::exists(dir.file("out.safetensors"))) << args[0];
  }
}

TEST(TruncatedImagesCli, AllowTruncatedDecodesWhatIsThereWithOneWarning) {
  test::TempDir dir;
  const std::string cut = write_cut_jpeg(dir);
  const auto r = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", cut, "-o", dir.file("out.safetensors"),
                                "--allow-truncated"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("segkit: warning: " + cut + ": truncated JPEG"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("out.safetensors")));
}
