// SAM 3 through the command line, as users call it (default threads): `segkit predict --text`
// against transformers' post-processing and raw outputs, `embed` then `predict --embedding`,
// exemplar boxes, the output forms, and refused input.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "mask2former_fixtures.h"
#include "sam3_mask_fixtures.h"
#include "sam3_vision_fixtures.h"
#include "sam_fixtures.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "test_util.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

const std::string kCase = "synth_rgb_text1";  // "yellow truck" on synth_rgb.png

std::string image() { return test::data_path("sam3/images/synth_rgb.png"); }

std::string threshold() {
  return std::to_string(test::sam3_mask_thresholds(kCase).at("score").get<double>());
}

std::vector<std::string> predict(std::vector<std::string> extra) {
  std::vector<std::string> args = {"predict", "-m", test::sam3_tiny()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

at::Tensor tensor_of(const SafetensorsFile& f, const std::string& name) { return test::case_tensor(f, name); }

void expect_one_line(const test::CliResult& r, const std::string& line) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "segkit: error: " + line + "\n");
}

TEST(Sam3Cli, PredictTextMatchesTransformers) {
  test::TempDir dir;
  const auto r = test::run_cli(predict({"-i", image(), "-t", "yellow truck", "--threshold", threshold(), "-o",
                                        dir.file("p.safetensors"), "--raw", dir.file("raw.safetensors"), "--overlay",
                                        dir.file("o.png")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"yellow truck\": "), std::string::npos) << r.out;

  const auto raw = SafetensorsFile::open(dir.file("raw.safetensors"));
  for (const char* key : {"pred_logits", "pred_boxes", "presence_logits", "pred_masks", "semantic_seg"})
    EXPECT_LE(test::relative_l2(tensor_of(*raw, key), test::sam3_mask_case(kCase, std::string("out.") + key)), 1e-4)
        << key;

  const auto p = SafetensorsFile::open(dir.file("p.safetensors"));
  const at::Tensor scores = tensor_of(*p, "scores"), boxes = tensor_of(*p, "boxes");
  const at::Tensor expected_scores = test::sam3_mask_case(kCase, "pp.b0.inst.scores");
  ASSERT_EQ(scores.size(0), expected_scores.size(0));
  ASSERT_GT(scores.size(0), 0);
  EXPECT_LE((scores - expected_scores).abs().max().item<double>(), 1e-4);
  EXPECT_LE((boxes - test::sam3_mask_case(kCase, "pp.b0.inst.boxes")).abs().max().item<double>(), 1e-3);
  const at::Tensor masks = tensor_of(*p, "masks").to(at::kByte);
  const at::Tensor expected = test::unpack_mask(test::sam3_mask_case(kCase, "pp.b0.inst.masks_packed"),
                                                test::sam3_mask_case(kCase, "pp.b0.inst.masks_shape"));
  EXPECT_GE(masks.eq(expected).to(at::kDouble).mean().item<double>(), 0.999);
  EXPECT_EQ(nlohmann::json::parse(p->metadata().at("phrases")), nlohmann::json({"yellow truck"}));
  EXPECT_EQ(load_image(dir.file("o.png")).width, 200);
}

TEST(Sam3Cli, EmbedOnceThenAskWithNewPhrases) {
  test::TempDir dir;
  auto r = test::run_cli({"embed", "-m", test::sam3_tiny(), "-i", image(), "-o", dir.file("e.safetensors")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli(predict({"-e", dir.file("e.safetensors"), "-t", "yellow truck", "-t", "a dog", "--threshold", "0.1",
                             "-o", dir.file("from_embedding.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli(predict({"-i", image(), "-t", "yellow truck", "-t", "a dog", "--threshold", "0.1", "-o",
                             dir.file("from_image.json"), "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json records = nlohmann::json::parse(read_text_file(dir.file("from_image.json")));
  EXPECT_EQ(nlohmann::json::parse(r.out), records);  // --json prints what the file holds
  EXPECT_EQ(nlohmann::json::parse(read_text_file(dir.file("from_embedding.json"))), records);
  ASSERT_GT(records.size(), 0u);
  std::set<std::string> labels;
  for (const auto& rec : records) labels.insert(rec.at("label").get<std::string>());
  EXPECT_EQ(labels, (std::set<std::string>{"yellow truck", "a dog"}));
  EXPECT_EQ(records[0].at("segmentation").at("size"), nlohmann::json({150, 200}));
}

TEST(Sam3Cli, ExemplarBoxesAloneOrWithWordsAndAFolderOfMasks) {
  test::TempDir dir;
  auto r = test::run_cli(predict({"-i", image(), "-b", "20,30,120,110", "-b", "150,10,190,60,0", "--threshold", "0",
                                  "-o", dir.file("masks")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json records = nlohmann::json::parse(read_text_file(dir.file("masks/masks.json")));
  ASSERT_EQ(records.size(), 20u);  // threshold 0: every query of the tiny model
  EXPECT_EQ(records[0].at("label"), "visual");
  EXPECT_TRUE(fs::exists(dir.file("masks/mask_19.png")));
  r = test::run_cli(predict({"-i", image(), "-t", "truck", "-b", "20,30,120,110", "-o", dir.file("p.json"), "-q"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Sam3Cli, Bfloat16RunsFromTheCommandLine) {
  test::TempDir dir;
  const auto r = test::run_cli(predict({"-i", image(), "-t", "yellow truck", "--threshold", "0", "--precision", "bf16",
                                        "-o", dir.file("p.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(read_text_file(dir.file("p.json"))).size(), 20u);  // every query of the tiny model
}

TEST(Sam3Cli, LongPhrasesAreCutWithAWarning) {
  test::TempDir dir;
  std::string longer;
  for (int i = 0; i < 40; ++i) longer += "truck ";
  const auto r = test::run_cli(predict({"-i", image(), "-t", longer, "-o", dir.file("p.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: --text \"" + longer + "\" is longer than the text model's 32 tokens"), std::string::npos)
      << r.err;
}

TEST(Sam3Cli, RefusedInputIsOneLineAndWritesNothing) {
  test::TempDir dir;
  const std::string out = dir.file("p.json");
  expect_one_line(test::run_cli(predict({"-i", image(), "-t", "truck", "-b", "300,10,400,50", "-o", out})),
                  "prompt 1 box 1 (300,10,400,50): lies outside the 200×150 image");
  expect_one_line(test::run_cli(predict({"-i", image(), "-b", "1,2,3", "-o", out})),
                  "--box '1,2,3': expected X0,Y0,X1,Y1 or X0,Y0,X1,Y1,LABEL");
  expect_one_line(test::run_cli(predict({"-i", image(), "-b", "1,2,3,4,5", "-o", out})),
                  "--box '1,2,3,4,5': LABEL must be 1 (positive) or 0 (negative)");
  expect_one_line(test::run_cli(predict({"-i", image(), "-t", " ", "-o", out})),
                  "prompt 1: an empty phrase names nothing; give words or exemplar boxes");
  expect_one_line(test::run_cli(predict({"-i", image(), "-o", out})),
                  "a SAM 3 model needs --text PHRASE and/or --box X0,Y0,X1,Y1");
  expect_one_line(test::run_cli(predict({"-i", image(), "-p", "5,5", "-o", out})),
                  "--point is a SAM prompt; a SAM 3 model takes --text and --box");
  expect_one_line(test::run_cli({"predict", "-m", test::sam_tiny_hf(), "-i", image(), "-t", "truck", "-o", out}),
                  "--text needs a SAM 3 model; " + test::sam_tiny_hf() + " is not one");
  const std::string not_utf8 = "truck\xff";
  const auto r = test::run_cli(predict({"-i", image(), "-t", not_utf8, "-o", out}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid UTF-8"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));

  // An embedding of a SAM model is not a SAM 3 one.
  auto e = test::run_cli({"embed", "-m", test::sam_tiny_hf(), "-i", image(), "-o", dir.file("sam.safetensors")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  expect_one_line(test::run_cli(predict({"-e", dir.file("sam.safetensors"), "-t", "truck", "-o", out})),
                  dir.file("sam.safetensors") + ": a SAM embedding, not a SAM 3 one (made by segkit embed with a SAM model)");
  EXPECT_FALSE(fs::exists(out));
}

TEST(Sam3Cli, SegmentAFolderByWordsResumably) {
  test::TempDir dir;
  fs::create_directories(dir.file("in"));
  fs::copy_file(image(), dir.file("in/7.png"));
  fs::copy_file(test::data_path("sam3/images/synth_rgba.png"), dir.file("in/12.png"));
  const std::vector<std::string> args = {"segment", "-m", test::sam3_tiny(), "--input", dir.file("in"), "-t", "yellow truck",
                                         "-t", "a dog", "--threshold", threshold(), "-o", dir.file("out"), "--overlay"};
  auto r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json categories = nlohmann::json::parse(read_text_file(dir.file("out/categories.json")));
  EXPECT_EQ(categories, nlohmann::json::parse(R"([{"id": 1, "name": "yellow truck"}, {"id": 2, "name": "a dog"}])"));
  const nlohmann::json results = nlohmann::json::parse(read_text_file(dir.file("out/results.json")));
  // The "yellow truck" instances of image 7 are the fixture's, in query order.
  const at::Tensor expected_scores = test::sam3_mask_case(kCase, "pp.b0.inst.scores");
  std::vector<double> scores;
  std::set<int64_t> images;
  for (const auto& rec : results) {
    images.insert(rec.at("image_id").get<int64_t>());
    if (rec.at("image_id") == 7 && rec.at("category_id") == 1) scores.push_back(rec.at("score").get<double>());
  }
  EXPECT_EQ(images, (std::set<int64_t>{7, 12}));
  ASSERT_EQ(static_cast<int64_t>(scores.size()), expected_scores.size(0));
  for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(scores[i], expected_scores[i].item<double>(), 1e-4);
  EXPECT_EQ(load_image(dir.file("out/overlay/12.png")).width, 120);

  r = test::run_cli({"segment", "-m", test::sam3_tiny(), "--input", dir.file("in"), "-t", "yellow truck", "-o",
                     dir.file("out"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("skipped"), 2);

  expect_one_line(test::run_cli({"segment", "-m", test::sam3_tiny(), "-i", image(), "-t", "truck", "--task", "panoptic",
                                 "-o", dir.file("p")}),
                  "--task panoptic: a SAM 3 model segments instances (--task instance)");
  expect_one_line(test::run_cli({"segment", "-m", test::sam3_tiny(), "-i", image(), "-o", dir.file("p")}),
                  "a SAM 3 model needs --text PHRASE (each becomes a category)");
  expect_one_line(test::run_cli({"segment", "-m", test::mask2former_tiny(), "-i", image(), "-t", "truck", "-o", dir.file("p")}),
                  "--text: needs a SAM 3 model; " + test::mask2former_tiny() + " is not one");
}

TEST(Sam3Cli, DamagedModelFoldersAreOneLineErrors) {
  const auto copy_model = [](const test::TempDir& dir) {
    fs::copy(test::sam3_tiny(), dir.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    return dir.path();
  };
  const auto expect_refused = [](const std::string& model, const std::string& fragment) {
    test::TempDir out;
    const auto r = test::run_cli({"predict", "-m", model, "-i", image(), "-t", "truck", "-o", out.file("p.json")});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out.file("p.json")));
  };
  {
    test::TempDir dir;
    const std::string model = copy_model(dir);
    const std::string tokenizer = read_text_file(dir.file("tokenizer.json"));
    write_text_atomically(dir.file("tokenizer.json"), tokenizer.substr(0, tokenizer.size() / 2));
    expect_refused(model, dir.file("tokenizer.json"));
    fs::remove(dir.file("tokenizer.json"));
    expect_refused(model, "tokenizer");
  }
  {
    test::TempDir dir;
    const std::string model = copy_model(dir);
    nlohmann::json config = nlohmann::json::parse(read_text_file(dir.file("config.json")));
    config["text_config"]["vocab_size"] = 600;
    write_text_atomically(dir.file("config.json"), config.dump());
    expect_refused(model, "594");
  }
  {
    test::TempDir dir;
    const std::string model = copy_model(dir);
    const std::string weights = read_text_file(dir.file("model.safetensors"));
    write_text_atomically(dir.file("model.safetensors"), weights.substr(0, weights.size() / 2));
    expect_refused(model, dir.file("model.safetensors"));
  }
}

TEST(Sam3Cli, InfoNamesTheFamily) {
  const auto r = test::run_cli({"info", test::sam3_tiny(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("family"), "sam3");
  EXPECT_EQ(j.at("runnable"), true);
  EXPECT_EQ(j.at("architecture"), "sam3 vit 64×4 at 168 px, text 64×2, 20 queries");
}

}  // namespace
