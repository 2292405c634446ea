// `segkit segment` end to end with the tiny Mask2Former: each task's files against transformers'
// maps, read back by `segkit eval`, folder runs (resumable, a bad image skipped), --raw, and
// refused input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mask2former_fixtures.h"
#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/label_map.h"
#include "segkit/mask2former.h"
#include "segkit/safetensors.h"
#include "test_util.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> segment_args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"segment", "-m", test::mask2former_tiny()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A folder with the fixture image and a left-right mirrored copy.
std::string input_folder(const test::TempDir& dir) {
  fs::create_directories(dir.file("val"));
  Image image = load_image(test::data_path("mask2former/inputs/img0.png"));
  save_png(dir.file("val/000000000139.png"), image);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width / 2; ++x)
      for (int c = 0; c < 3; ++c)
        std::swap(image.rgb[(static_cast<size_t>(y) * image.width + x) * 3 + c],
                  image.rgb[(static_cast<size_t>(y) * image.width + image.width - 1 - x) * 3 + c]);
  save_png(dir.file("val/000000000285.png"), image);
  return dir.file("val");
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text_file(path)); }

TEST(SegmentCli, SemanticLabelMapIsTransformersAndEvalReadsIt) {
  test::TempDir dir;
  auto r = test::run_cli(segment_args({"--input", input_folder(dir), "--task", "semantic", "-o", dir.file("pred"), "--overlay"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const LabelImage labels = load_label_png(dir.file("pred/000000000139.png"));
  EXPECT_EQ(labels.bit_depth, 8);
  const at::Tensor expected = test::case_tensor(*test::mask2former_case("img0_hub"), "post.semantic.b0.segmentation").to(at::kInt).flatten();
  ASSERT_EQ(labels.labels.size(), static_cast<size_t>(expected.numel()));
  size_t equal = 0;
  for (size_t i = 0; i < labels.labels.size(); ++i) equal += labels.labels[i] == expected[i].item<int>();
  EXPECT_GE(static_cast<double>(equal) / labels.labels.size(), 0.999);
  EXPECT_EQ(read_json(dir.file("pred/labels.json"))["3"], "sky");
  EXPECT_EQ(load_image(dir.file("pred/overlay/000000000285.png")).width, 512);
  r = test::run_cli({"eval", "semantic", "--pred", dir.file("pred"), "--gt", dir.file("pred"), "--num-labels", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mean IoU          1.0000"), std::string::npos) << r.out;
}

TEST(SegmentCli, InstanceResultsAreCocoAndEvalReadsThem) {
  test::TempDir dir;
  auto r = test::run_cli(segment_args({"--input", input_folder(dir), "--task", "instance", "-o", dir.file("pred"), "--threshold", "0", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["segmented"], 2);
  const nlohmann::json results = read_json(dir.file("pred/results.json"));
  ASSERT_EQ(results.size(), 24u);  // 12 queries per image at threshold 0
  EXPECT_EQ(results[0]["image_id"], 139);  // COCO's numeric file names
  EXPECT_TRUE(results[0]["segmentation"]["counts"].is_string());
  EXPECT_EQ(results[0]["segmentation"]["size"], nlohmann::json({341, 512}));
  EXPECT_EQ(results[0]["category_id"], 4);  // transformers' first instance: label 4, score 0.404817
  // Written with 6 decimals: one unit in the last place is the products' summation order.
  EXPECT_NEAR(results[0]["score"].get<double>(), 0.404817, 1.5e-6);
  // Its own predictions as ground truth: every instance found again.
  nlohmann::json gt{{"images", {{{"id", 139}, {"height", 341}, {"width", 512}}, {{"id", 285}, {"height", 341}, {"width", 512}}}},
                    {"annotations", nlohmann::json::array()},
                    {"categories", nlohmann::json::array()}};
  for (int c = 0; c < 7; ++c) gt["categories"].push_back({{"id", c}});
  for (size_t i = 0; i < results.size(); ++i)
    gt["annotations"].push_back({{"id", i + 1}, {"image_id", results[i]["image_id"]}, {"category_id", results[i]["category_id"]},
                                 {"segmentation", results[i]["segmentation"]}, {"area", results[i]["area"]},
                                 {"bbox", results[i]["bbox"]}, {"iscrowd", 0}});
  write_text_atomically(dir.file("gt.json"), gt.dump());
  r = test::run_cli({"eval", "instance", "--gt", dir.file("gt.json"), "--results", dir.file("pred/results.json"), "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(r.out)["stats"][0].get<double>(), 1.0);
}

TEST(SegmentCli, PanopticPngAndJsonAreCocoAndEvalReadsThem) {
  test::TempDir dir;
  auto r = test::run_cli(segment_args({"--input", input_folder(dir), "--task", "panoptic", "-o", dir.file("pred"), "--threshold",
                                       "0", "--label-ids-to-fuse", "3,4,5,6"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json pred = read_json(dir.file("pred/panoptic.json"));
  ASSERT_EQ(pred["annotations"].size(), 2u);
  EXPECT_EQ(pred["categories"][3], nlohmann::json({{"id", 3}, {"name", "sky"}, {"isthing", 0}}));
  // transformers gives one fused "road" segment (id 1) and things; ids here are 1, 2, ... and unique.
  const nlohmann::json& first = pred["annotations"][0];
  EXPECT_EQ(first["file_name"], "000000000139.png");
  std::set<int> ids;
  for (const auto& s : first["segments_info"]) EXPECT_TRUE(ids.insert(s["id"].get<int>()).second);
  // The PNG holds exactly those ids, with the listed areas.
  const Image png = load_image(dir.file("pred/000000000139.png"));
  std::map<int, int64_t> area;
  for (size_t i = 0; i < png.rgb.size(); i += 3) ++area[png.rgb[i] + 256 * png.rgb[i + 1] + 65536 * png.rgb[i + 2]];
  for (const auto& s : first["segments_info"]) EXPECT_EQ(area[s["id"].get<int>()], s["area"].get<int64_t>());

  nlohmann::json gt = pred;
  gt["images"] = {{{"id", 139}, {"file_name", "000000000139.jpg"}}, {{"id", 285}, {"file_name", "000000000285.jpg"}}};
  write_text_atomically(dir.file("gt.json"), gt.dump());
  r = test::run_cli({"eval", "panoptic", "--gt-json", dir.file("gt.json"), "--gt-dir", dir.file("pred"), "--pred-json",
                     dir.file("pred/panoptic.json"), "--pred-dir", dir.file("pred"), "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(r.out)["All"]["pq"].get<double>(), 1.0);
}

TEST(SegmentCli, FolderRunSkipsABadImageAndResumes) {
  test::TempDir dir;
  const std::string in = input_folder(dir);
  { std::ofstream(dir.file("val/broken.jpg")) << "not a jpeg"; }
  const auto args = segment_args({"--input", in, "--task", "panoptic", "-o", dir.file("pred")});
  auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("broken.jpg"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 image(s): 2 segmented"), std::string::npos) << r.out;
  const auto before = fs::last_write_time(dir.file("pred/segments/000000000139.json"));
  r = test::run_cli(args);
  EXPECT_NE(r.out.find("0 segmented (0 segments), 2 already done, 1 failed"), std::string::npos) << r.out;
  EXPECT_EQ(fs::last_write_time(dir.file("pred/segments/000000000139.json")), before);
  EXPECT_EQ(read_json(dir.file("pred/panoptic.json"))["annotations"].size(), 2u);
}

TEST(SegmentCli, RawWritesTheProcessorAndModelOutputs) {
  test::TempDir dir;
  auto r = test::run_cli(segment_args({"-i", test::data_path("mask2former/inputs/img0.png"), "-o", dir.file("pred"), "--raw",
                                       dir.file("raw.safetensors"), "--quiet"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto raw = SafetensorsFile::open(dir.file("raw.safetensors"));
  auto expected = test::mask2former_case("img0_hub");
  for (const char* name : {"pixel_values", "class_queries_logits", "masks_queries_logits"}) {
    const std::string want = std::string(name == std::string("pixel_values") ? "inputs." : "out.") + name;
    EXPECT_LE(test::relative_l2(test::case_tensor(*raw, name), test::case_tensor(*expected, want)), 1e-4) << name;
  }
  EXPECT_EQ(raw->get("pixel_mask").shape, (std::vector<int64_t>{1, 256, 256}));
}

TEST(SegmentCli, ImageIdsAndPanopticThresholdsReachTheOutput) {
  test::TempDir dir;
  const std::string in = input_folder(dir);
  write_text_atomically(dir.file("coco.json"), R"({"images": [{"id": 7, "file_name": "000000000139.jpg"},
                                                               {"id": 9, "file_name": "000000000285.jpg"}]})");
  const auto run = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--input", in, "--task", "panoptic", "-o", dir.file(out), "--image-ids", dir.file("coco.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = test::run_cli(segment_args(args));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_json(dir.file(out + "/panoptic.json"));
  };
  const nlohmann::json loose = run("loose", {"--threshold", "0", "--mask-threshold", "0.1", "--overlap-mask-area-threshold", "0"});
  EXPECT_EQ(loose["annotations"][0]["image_id"], 7);
  EXPECT_EQ(loose["annotations"][1]["image_id"], 9);
  // The same options through the library give the same segments.
  const auto model = Mask2FormerModel::load(test::mask2former_tiny(), test::quiet_load_options());
  SegmentationOptions options;
  options.threshold = 0.0f;
  options.mask_threshold = 0.1f;
  options.overlap_mask_area_threshold = 0.0f;
  options.transformers_ids = false;
  const Segmentation s = model->segment(load_image(dir.file("val/000000000139.png")), SegmentationTask::Panoptic, options);
  ASSERT_EQ(loose["annotations"][0]["segments_info"].size(), s.segments.size());
  // A stricter overlap keeps fewer segments.
  const nlohmann::json strict = run("strict", {"--threshold", "0", "--mask-threshold", "0.1", "--overlap-mask-area-threshold", "0.99"});
  EXPECT_LT(strict["annotations"][0]["segments_info"].size(), loose["annotations"][0]["segments_info"].size());
  // A file missing from --image-ids is named.
  write_text_atomically(dir.file("coco.json"), R"({"images": [{"id": 7, "file_name": "000000000139.jpg"}]})");
  const auto r = test::run_cli(segment_args({"--input", in, "-o", dir.file("missing"), "--image-ids", dir.file("coco.json")}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no image named like 000000000285.png"), std::string::npos) << r.err;
}

TEST(SegmentCli, RunsARandomCheckpointWrittenByDevRandomMask2Former) {
  test::TempDir dir;
  auto r = test::run_cli({"dev-random-mask2former", "--config", test::data_path("mask2former/model/config.json"), "-o",
                          dir.file("random"), "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli(segment_args({"-i", test::data_path("mask2former/inputs/img0.png"), "--task", "semantic", "-o",
                                  dir.file("out"), "--quiet"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli({"segment", "-m", dir.file("random"), "-i", test::data_path("mask2former/inputs/img0.png"), "--task",
                     "semantic", "-o", dir.file("random-out"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(load_label_png(dir.file("random-out/img0.png")).width, 512);
  EXPECT_NE(load_label_png(dir.file("random-out/img0.png")).labels, load_label_png(dir.file("out/img0.png")).labels);
}

TEST(SegmentCli, RefusesBadInputInOneLine) {
  test::TempDir dir;
  const std::string image = test::data_path("mask2former/inputs/img0.png");
  const struct {
    std::vector<std::string> args;
    const char* expected;
  } cases[] = {
      {{"segment", "-m", test::sam_tiny_hf(), "-i", image, "-o", dir.file("o")}, "this is a SAM model, not a Mask2Former model"},
      {segment_args({"-i", image, "-o", dir.file("o"), "--label-ids-to-fuse", "7"}), "--label-ids-to-fuse: label 7"},
      {segment_args({"-i", image, "-o", dir.file("o"), "--task", "depth"}), "--task"},
      {segment_args({"-i", image, "-o", dir.file("o"), "--precision", "fp16"}), "--precision: fp16 not in {fp32,bf16,auto}"},
      {segment_args({"--input", dir.path(), "-o", dir.file("o"), "--raw", dir.file("r.safetensors")}), "--raw"},
  };
  for (const auto& c : cases) {
    const auto r = test::run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.expected;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  { std::ofstream(dir.file("bad.png")) << "\x89PNG\r\n\x1a\n broken"; }
  const auto r = test::run_cli(segment_args({"-i", dir.file("bad.png"), "-o", dir.file("o2")}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.png"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("o2/bad.png")));
}

}  // namespace
