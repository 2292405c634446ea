// `segkit generate` end to end: output layouts, folder runs (resumable, a bad image skipped),
// overlays and refused parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "amg_golden.h"
#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/sam_generator.h"
#include "test_util.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

// A fixture image written as PNG into `path`.
void write_fixture_png(const std::string& path, const std::string& name = "truck_small") {
  save_png(path, test::sam_case_image(*test::sam_case_file(name)));
}

std::vector<std::string> generate_args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", "--model", test::sam_tiny_hf(), "--points-per-side", "4",
                                   "--pred-iou-thresh", "-1", "--stability-score-thresh", "0.2", "--box-nms-thresh", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

size_t count_files(const std::string& folder, const std::string& ext) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(folder)) n += e.path().extension() == ext;
  return n;
}

}  // namespace

TEST(GenerateCli, ReproducesUpstreamRecordsAsJson) {
  test::TempDir dir;
  write_fixture_png(dir.file("truck.png"));
  // The grid8_no_nms golden's parameters: the CLI must pass every one through.
  auto r = test::run_cli({"generate", "--model", test::sam_tiny_hf(), "--image", dir.file("truck.png"), "--out",
                          dir.file("truck"), "--output-mode", "uncompressed_rle", "--points-per-side", "8",
                          "--points-per-batch", "64", "--pred-iou-thresh", "-0.6", "--stability-score-thresh", "0.2",
                          "--stability-score-offset", "1.0", "--box-nms-thresh", "1.0", "--crop-n-layers", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = nlohmann::json::parse(read_text_file(dir.file("truck.json")));
  const auto want = nlohmann::json::parse(read_text_file(test::data_path("sam-tiny/amg/truck_small.grid8_no_nms.json")));
  ASSERT_EQ(got.size(), want["annotations"].size());
  for (size_t i = 0; i < got.size(); ++i) {
    for (const char* key : {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"})
      EXPECT_TRUE(got[i].contains(key)) << key;
    EXPECT_NEAR(got[i]["predicted_iou"].get<double>(), want["annotations"][i]["predicted_iou"].get<double>(), 1e-4);
    EXPECT_EQ(got[i]["segmentation"]["size"], want["annotations"][i]["segmentation"]["size"]);
  }
}

TEST(GenerateCli, WritesUpstreamFolderLayoutAndOverlay) {
  test::TempDir dir;
  write_fixture_png(dir.file("truck.png"));
  auto r = test::run_cli(generate_args({"--image", dir.file("truck.png"), "--out", dir.file("masks"), "--overlay",
                                        dir.file("overlay.png")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = read_text_file(dir.file("masks/metadata.csv"));
  ASSERT_EQ(csv.rfind("id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,"
                      "stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n0,", 0),
            0u)
      << csv;
  const size_t rows = size_t(std::count(csv.begin(), csv.end(), '\n'));
  EXPECT_EQ(count_files(dir.file("masks"), ".png"), rows);
  const Image mask = load_image(dir.file("masks/0.png"));
  EXPECT_EQ(mask.width, 300);
  EXPECT_EQ(mask.height, 200);
  const Image overlay = load_image(dir.file("overlay.png"));
  const Image original = load_image(dir.file("truck.png"));
  EXPECT_EQ(overlay.width, 300);
  EXPECT_NE(overlay.rgb, original.rgb);
}

TEST(GenerateCli, FolderRunSkipsABadImageAndResumes) {
  test::TempDir dir;
  fs::create_directories(dir.file("in"));
  write_fixture_png(dir.file("in/a.png"));
  write_fixture_png(dir.file("in/b.png"), "groceries_tall");
  { std::ofstream(dir.file("in/broken.jpg")) << "not a jpeg"; }
  { std::ofstream(dir.file("in/notes.txt")) << "ignored"; }
  const auto args = generate_args({"--input", dir.file("in"), "--out", dir.file("out"), "--output-mode", "coco_rle"});
  auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("broken.jpg"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 images: 2 generated"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir.file("out/a.json")));
  EXPECT_TRUE(fs::exists(dir.file("out/b.json")));
  const auto b = nlohmann::json::parse(read_text_file(dir.file("out/b.json")));
  ASSERT_FALSE(b.empty());
  EXPECT_TRUE(b[0]["segmentation"]["counts"].is_string());
  EXPECT_EQ(b[0]["segmentation"]["size"], nlohmann::json({210, 150}));

  // A second run finds both results and only retries the bad image.
  const auto before = fs::last_write_time(dir.file("out/a.json"));
  r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("0 generated (0 masks), 2 already done, 1 failed"), std::string::npos) << r.out;
  EXPECT_EQ(fs::last_write_time(dir.file("out/a.json")), before);

  // Binary masks: one folder per image, done when metadata.csv exists.
  fs::remove(dir.file("in/broken.jpg"));
  r = test::run_cli(generate_args({"--input", dir.file("in"), "--out", dir.file("png"), "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("png/a/metadata.csv")));
  EXPECT_TRUE(fs::exists(dir.file("png/b/0.png")));
  EXPECT_EQ(nlohmann::json::parse(r.out)["generated"], 2);
}

TEST(GenerateCli, RefusesBadParametersBeforeLoadingTheModel) {
  test::TempDir dir;
  write_fixture_png(dir.file("truck.png"));
  auto r = test::run_cli({"generate", "--model", dir.file("no-such-model"), "--image", dir.file("truck.png"), "--out",
                          dir.file("out"), "--crop-overlap-ratio", "1.0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--crop-overlap-ratio"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("out")));
  r = test::run_cli({"generate", "--model", test::sam_tiny_hf(), "--out", dir.file("out")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--image or --input"), std::string::npos) << r.err;
}

// Every generator option through the command line, against upstream's records for each golden
// setting (min_mask_region_area included: its per-mask pass once crashed on every worker
// thread but the first).
namespace {

class GenerateCliGolden : public ::testing::TestWithParam<test::AmgGolden> {};

void expect_cli_matches_golden(const test::AmgGolden& g, const std::vector<std::string>& extra) {
  const nlohmann::json golden = test::load_amg_golden(g);
  const SamGeneratorParams p = test::generator_params_from_json(golden["params"]);
  test::TempDir dir;
  write_fixture_png(dir.file("in.png"), g.image);
  auto num = [](double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
  };
  std::vector<std::string> args = {"generate", "--model", test::sam_tiny_hf(), "--image", dir.file("in.png"), "--out",
                                   dir.file("out.json"), "--output-mode", "uncompressed_rle"};
  for (const auto& f : sam_generator_param_fields()) {
    std::string flag = std::string("--") + f.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    args.insert(args.end(), {flag, f.int_member ? std::to_string(p.*f.int_member) : num(p.*f.double_member)});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<SamMaskRecord> records;
  for (const auto& j : nlohmann::json::parse(read_text_file(dir.file("out.json"))))
    records.push_back(test::mask_record_from_json(j));
  test::expect_records_match_golden(records, golden);
}

}  // namespace

TEST_P(GenerateCliGolden, EveryOptionOnTwoThreadsMatchesUpstream) { expect_cli_matches_golden(GetParam(), {"--threads", "2"}); }

INSTANTIATE_TEST_SUITE_P(SamTiny, GenerateCliGolden, ::testing::ValuesIn(test::all_amg_goldens()),
                         [](const auto& info) { return info.param.image + "_" + info.param.setting; });

TEST(GenerateCli, SmallRegionRemovalWithTheDefaultThreadsMatchesUpstream) {
  expect_cli_matches_golden({"groceries_tall", "min_region"}, {});
}

// The options come from the library's table of generator parameters: upstream's keyword with
// dashes, the table's help text.
TEST(GenerateCli, HelpListsEveryGeneratorParameter) {
  const auto r = test::run_cli({"generate", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& f : sam_generator_param_fields()) {
    std::string flag = std::string("--") + f.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const size_t at = r.out.find(flag + " ");
    ASSERT_NE(at, std::string::npos) << flag << " missing from:\n" << r.out;
    EXPECT_NE(r.out.find(f.help, at), std::string::npos) << flag;
  }
}
