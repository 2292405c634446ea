// `segkit eval semantic` end to end: every "semantic" fixture case through the command line,
// plus the bad-input contract (one-line error naming the file, non-zero exit).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "metric_fixtures.h"
#include "segkit/label_map.h"

namespace fs = std::filesystem;

namespace {

using nlohmann::json;
using segkit::test::expect_metric_near;
using segkit::test::MetricCase;
using segkit::test::run_cli;
using segkit::test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// pred/ and gt/ folders holding the case's images under matching names.
void stage(const MetricCase& c, const TempDir& dir) {
  fs::create_directories(dir.file("pred"));
  fs::create_directories(dir.file("gt"));
  int i = 0;
  for (const auto& im : c.json.at("images")) {
    const std::string name = "image_" + std::to_string(i++) + ".png";
    fs::copy_file(c.dir + im.at("pred").get<std::string>(), dir.file("pred/" + name));
    fs::copy_file(c.dir + im.at("gt").get<std::string>(), dir.file("gt/" + name));
  }
}

std::vector<std::string> base_args(const MetricCase& c, const TempDir& dir) {
  std::vector<std::string> args = {"eval", "semantic", "--pred", dir.file("pred"), "--gt", dir.file("gt"),
                                   "--num-labels", std::to_string(c.json.at("num_labels").get<int>()),
                                   "--ignore-index", std::to_string(c.json.at("ignore_index").get<int64_t>())};
  if (c.json.at("reduce_labels").get<bool>()) args.push_back("--reduce-labels");
  if (!c.json.at("nan_to_num").is_null()) {
    args.push_back("--nan-to-num");
    args.push_back(c.json.at("nan_to_num").dump());
  }
  if (!c.json.at("label_map").is_null()) {
    std::ofstream(dir.file("label_map.json")) << c.json.at("label_map").dump();
    args.push_back("--label-map");
    args.push_back(dir.file("label_map.json"));
  }
  return args;
}

class EvalSemanticCli : public ::testing::TestWithParam<MetricCase> {};

TEST_P(EvalSemanticCli, JsonAndConfusionMatchReference) {
  const MetricCase& c = GetParam();
  TempDir dir;
  stage(c, dir);
  auto args = base_args(c, dir);
  for (const char* extra : {"--json", "out.json", "--confusion", "confusion.csv", "--per-image", "images.csv", "--threads", "2"})
    args.push_back(std::string(extra).find('.') != std::string::npos ? dir.file(extra) : extra);
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json got = json::parse(slurp(dir.file("out.json")));
  std::vector<std::string> keys;
  for (const auto& [k, v] : got.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"mean_accuracy", "mean_dice", "mean_iou", "overall_accuracy",
                                            "per_category_accuracy", "per_category_dice", "per_category_iou"}));
  const json& e = c.json.at("expected");
  const json& m = e.at("mean_iou");
  auto value = [](const json& v) { return v.is_null() ? std::nan("") : v.get<double>(); };
  for (const char* k : {"mean_iou", "mean_accuracy", "overall_accuracy"}) expect_metric_near(m.at(k), value(got.at(k)), k);
  expect_metric_near(e.at("mean_dice"), value(got.at("mean_dice")), "mean_dice");
  for (const auto& [key, want] : {std::pair{"per_category_iou", m.at("per_category_iou")},
                                  std::pair{"per_category_accuracy", m.at("per_category_accuracy")},
                                  std::pair{"per_category_dice", e.at("dice_per_class")}}) {
    ASSERT_EQ(got.at(key).size(), want.size()) << key;
    for (size_t i = 0; i < want.size(); ++i) expect_metric_near(want[i], value(got.at(key)[i]), key);
  }

  // Confusion CSV: header, then one row per gt class; nonzero cells equal the fixture's entries.
  std::istringstream csv(slurp(dir.file("confusion.csv")));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("gt\\pred,0", 0), 0u);
  json entries = json::array();
  for (int g = 0; std::getline(csv, line); ++g) {
    std::istringstream row(line);
    std::string cell;
    std::getline(row, cell, ',');
    EXPECT_EQ(std::stoi(cell), g);
    for (int p = 0; std::getline(row, cell, ','); ++p)
      if (std::stoll(cell) != 0) entries.push_back({g, p, std::stoll(cell)});
  }
  EXPECT_EQ(entries, e.at("confusion_matrix").at("entries"));

  const std::string per_image = slurp(dir.file("images.csv"));
  EXPECT_EQ(per_image.rfind("file,mean_iou,mean_accuracy,pixel_accuracy,mean_dice,evaluated_pixels\n", 0), 0u);
  EXPECT_EQ(static_cast<size_t>(std::count(per_image.begin(), per_image.end(), '\n')), c.json.at("images").size() + 1);
  EXPECT_NE(per_image.find("image_0.png,"), std::string::npos);

  // Out-of-range labels warn with a count; --strict turns them into an error naming the file.
  const int64_t oor = e.at("num_gt_out_of_range_pixels").get<int64_t>() + e.at("num_pred_out_of_range_pixels").get<int64_t>();
  EXPECT_EQ(r.err.find("outside [0,") != std::string::npos, oor > 0) << r.err;
  if (oor > 0) {  // (each CLI start costs a second or two, so only where it matters)
    auto strict = base_args(c, dir);
    strict.push_back("--strict");
    const auto s = run_cli(strict);
    EXPECT_EQ(s.exit_code, 1);
    EXPECT_NE(s.err.find("image_"), std::string::npos) << s.err;
    EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
  }
}

TEST(EvalSemanticCliTable, PrintsReadableTableWithoutJson) {
  TempDir dir;
  const auto cases = segkit::test::load_metric_cases("semantic");
  const auto it = std::find_if(cases.begin(), cases.end(), [](const MetricCase& c) { return c.name == "tiny_hand_check"; });
  ASSERT_NE(it, cases.end());
  stage(*it, dir);
  auto args = base_args(*it, dir);
  args.push_back("--strict");
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mean IoU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EvalSemanticCli, ::testing::ValuesIn(segkit::test::load_metric_cases("semantic")),
                         segkit::test::metric_case_name);

// Two 4x3 label maps under the given names.
void write_pair(const TempDir& dir, const std::string& name, int pred_w = 4) {
  fs::create_directories(dir.file("pred"));
  fs::create_directories(dir.file("gt"));
  std::vector<uint16_t> gt(12, 1), pred(static_cast<size_t>(pred_w) * 3, 1);
  segkit::save_label_png(dir.file("gt/" + name), gt.data(), 4, 3);
  segkit::save_label_png(dir.file("pred/" + name), pred.data(), pred_w, 3);
}

segkit::test::CliResult eval(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"eval", "semantic", "--pred", dir.file("pred"), "--gt", dir.file("gt"), "--num-labels", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

void expect_one_line_error(const segkit::test::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(EvalSemanticCliErrors, SizeMismatchNamesTheFile) {
  TempDir dir;
  write_pair(dir, "a.png");
  write_pair(dir, "b.png", 5);
  expect_one_line_error(eval(dir), "b.png");
}

TEST(EvalSemanticCliErrors, CorruptAndNonPngFilesNameTheFile) {
  TempDir dir;
  write_pair(dir, "a.png");
  static const char truncated[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\4\0\0\0\3\x08\0\0\0\0garbage";
  std::ofstream(dir.file("pred/a.png"), std::ios::binary) << std::string(truncated, sizeof(truncated) - 1);
  expect_one_line_error(eval(dir), "a.png");
  std::ofstream(dir.file("pred/a.png"), std::ios::binary) << "not an image at all";
  expect_one_line_error(eval(dir), "not a PNG");
}

TEST(EvalSemanticCliErrors, MissingPredictionsAreAnErrorUnlessAllowed) {
  TempDir dir;
  write_pair(dir, "a.png");
  write_pair(dir, "b.png");
  fs::remove(dir.file("pred/b.png"));
  std::vector<uint16_t> extra(12, 0);
  segkit::save_label_png(dir.file("pred/c.png"), extra.data(), 4, 3);
  expect_one_line_error(eval(dir), "b.png");
  const auto r = eval(dir, {"--allow-missing", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("b.png"), std::string::npos);
  EXPECT_NE(r.err.find("c.png"), std::string::npos);
  EXPECT_DOUBLE_EQ(json::parse(r.out).at("mean_iou").get<double>(), 1.0);
}

TEST(EvalSemanticCliErrors, MalformedLabelMapAndEmptyFolder) {
  TempDir dir;
  write_pair(dir, "a.png");
  std::ofstream(dir.file("map.json")) << "[[1, 2], [3]";
  expect_one_line_error(eval(dir, {"--label-map", dir.file("map.json")}), "map.json");
  std::ofstream(dir.file("map.json")) << "[[1, 2], [3]]";
  expect_one_line_error(eval(dir, {"--label-map", dir.file("map.json")}), "map.json");
  fs::remove(dir.file("gt/a.png"));
  expect_one_line_error(eval(dir), "no PNG");
}

}  // namespace
