// The public SAM 3 API (segkit/sam3.h) on the tiny fixture model (tests/data/sam3/model, a whole
// folder with its tokenizer): from an image and a phrase to Sam3Processor's instances, the
// stages with a stored embedding, box prompts, the registry, and refused input.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "sam3_mask_fixtures.h"
#include "sam3_vision_fixtures.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/sam3.h"
#include "test_util.h"

namespace segkit::test {
namespace {

constexpr double kTolerance = 1e-4;
constexpr double kBoxTolerancePx = 1e-3;
constexpr double kScoreTolerance = 1e-4;
constexpr double kMaskAgreement = 0.999;

const Sam3Model& model() {
  static const auto m = Sam3Model::load(sam3_tiny());
  return *m;
}

// The fixture's cases with their post-processing in mask_cases.safetensors, and their images.
struct ImageCase {
  std::string name, image, phrase;
};
const std::vector<ImageCase> kCases = {{"synth_rgb_text1", "sam3/images/synth_rgb.png", "yellow truck"},
                                       {"synth_rgba_text0", "sam3/images/synth_rgba.png", "truck"}};

Sam3Options fixture_options(const std::string& name) {
  const nlohmann::json t = sam3_mask_thresholds(name);
  Sam3Options o;
  o.threshold = t.at("score").get<float>();
  o.mask_threshold = t.at("mask").get<float>();
  return o;
}

at::Tensor as_tensor(const FloatArray& a) {
  return at::from_blob(const_cast<float*>(a.data.data()), a.shape, at::kFloat);
}

void expect_matches_fixture(const Sam3Result& r, const std::string& name) {
  const std::string pp = "pp.b0.inst.";
  const at::Tensor keep = sam3_mask_case(name, pp + "keep_idx");
  ASSERT_EQ(r.size(), keep.size(0));
  const at::Tensor scores = sam3_mask_case(name, pp + "scores"), boxes = sam3_mask_case(name, pp + "boxes");
  for (int i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r.queries[i], keep[i].item<int64_t>());
    EXPECT_NEAR(r.scores[i], scores[i].item<float>(), kScoreTolerance);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(r.boxes[i][k], boxes[i][k].item<float>(), kBoxTolerancePx);
  }
  const at::Tensor expected = unpack_mask(sam3_mask_case(name, pp + "masks_packed"), sam3_mask_case(name, pp + "masks_shape"));
  ASSERT_EQ(expected.sizes(), (std::vector<int64_t>{r.size(), r.height, r.width}));
  const at::Tensor ours = at::from_blob(const_cast<uint8_t*>(r.masks.data()), expected.sizes(), at::kByte);
  EXPECT_GE(ours.eq(expected).to(at::kDouble).mean().item<double>(), kMaskAgreement);
}

TEST(Sam3PublicModel, SegmentMatchesTransformersFromTheImageFile) {
  for (const ImageCase& c : kCases) {
    SCOPED_TRACE(c.name);
    const Sam3Result r = model().segment(load_image(data_path(c.image)), c.phrase, fixture_options(c.name));
    EXPECT_EQ(r.text, c.phrase);
    EXPECT_FALSE(r.truncated);
    expect_matches_fixture(r, c.name);
  }
}

TEST(Sam3PublicModel, StagesThroughAStoredEmbeddingGiveTheRawOutputs) {
  const ImageCase& c = kCases[0];
  const Image image = load_image(data_path(c.image));
  TempDir dir;
  model().encode_image(image).save(dir.file("e.safetensors"));
  const Sam3ImageEmbedding e = Sam3ImageEmbedding::load(dir.file("e.safetensors"));
  EXPECT_EQ(e.original_height, image.height);
  EXPECT_EQ(e.model_fingerprint, model().fingerprint());
  ASSERT_EQ(e.levels.size(), 3u);
  EXPECT_TRUE(e.mask_skips.empty());  // in memory only: this detect runs the whole mask decoder

  const Sam3RawOutput raw = model().detect(e, model().encode_text({c.phrase}));
  const std::vector<std::pair<const char*, const FloatArray*>> outputs = {{"pred_logits", &raw.pred_logits},
                                                                          {"pred_boxes", &raw.pred_boxes},
                                                                          {"presence_logits", &raw.presence_logits},
                                                                          {"pred_masks", &raw.pred_masks},
                                                                          {"semantic_seg", &raw.semantic_seg}};
  for (const auto& [key, array] : outputs) {
    SCOPED_TRACE(key);
    EXPECT_LE(relative_l2(as_tensor(*array), sam3_mask_case(c.name, std::string("out.") + key)), kTolerance);
  }
  const std::vector<Sam3Result> results = model().postprocess(raw, fixture_options(c.name));
  ASSERT_EQ(results.size(), 1u);
  expect_matches_fixture(results[0], c.name);
}

TEST(Sam3PublicModel, TheEmbeddingsMaskSkipsGiveTheSameOutputsAsTheWholeDecoder) {
  const ImageCase& c = kCases[0];
  const Sam3ImageEmbedding without = model().encode_image(load_image(data_path(c.image)));
  EXPECT_TRUE(without.mask_skips.empty());  // only on request: one phrase gains nothing by them
  Sam3ImageEmbedding with = without;
  model().compute_mask_skips(with);
  ASSERT_EQ(with.mask_skips.size(), 2u);  // one per upsampling stage, coarsest first, channels last
  const std::vector<int64_t>& level = with.levels[1].shape;
  EXPECT_EQ(with.mask_skips[0].shape, (std::vector<int64_t>{1, level[2], level[3], level[1]}));
  EXPECT_EQ(with.mask_skips[1].shape[1], with.levels[0].shape[2]);
  const std::vector<FloatArray> first = with.mask_skips;
  model().compute_mask_skips(with);  // has them: unchanged
  ASSERT_EQ(with.mask_skips.size(), 2u);
  EXPECT_EQ(with.mask_skips[1].data, first[1].data);
  // One row without them runs transformers' order; two rows compute them once for both.
  const Sam3TextEmbedding one = model().encode_text({c.phrase}), two = model().encode_text({c.phrase, "dog"});
  const at::Tensor expected = sam3_mask_case(c.name, "out.pred_masks");
  const Sam3RawOutput a = model().detect(with, one), b = model().detect(without, one);
  const Sam3RawOutput pair = model().detect(without, two);
  EXPECT_LE(relative_l2(as_tensor(a.pred_masks), expected), kTolerance);
  EXPECT_LE(relative_l2(as_tensor(b.pred_masks), expected), kTolerance);
  EXPECT_LE(relative_l2(as_tensor(a.pred_masks), as_tensor(b.pred_masks)), 1e-5);
  EXPECT_LE(relative_l2(as_tensor(pair.pred_masks).slice(0, 0, 1), expected), kTolerance);

  Sam3ImageEmbedding bad = with;
  std::swap(bad.mask_skips[0], bad.mask_skips[1]);
  EXPECT_NE(error_of([&] { model().detect(bad, one); }).find("mask skip term 0 is not of its level's shape"),
            std::string::npos);
  bad.mask_skips.pop_back();
  EXPECT_NE(error_of([&] { model().detect(bad, one); }).find("1 mask skip terms for 3 levels"), std::string::npos);
  Sam3ImageEmbedding other = without;
  other.model_fingerprint = "another";
  EXPECT_NE(error_of([&] { model().compute_mask_skips(other); }).find("from another model"), std::string::npos);
}

TEST(Sam3PublicModel, PromptsWithAndWithoutBoxesKeepTheirOrderAndTheirOwnResults) {
  const Image image = load_image(data_path(kCases[0].image));
  Sam3Prompt boxed("a dog");
  boxed.boxes = {{20, 30, 120, 110}};
  Sam3Prompt visual;
  visual.boxes = {{20, 30, 120, 110}, {150, 10, 190, 60}};
  visual.box_labels = {1, 0};
  Sam3Options all;
  all.threshold = 0.0f;  // every query, so that whole rows compare
  const std::vector<Sam3Result> together = model().segment(image, {"yellow truck", boxed, "truck", visual}, all);
  ASSERT_EQ(together.size(), 4u);
  EXPECT_EQ(together[3].text, "visual");
  const std::vector<Sam3Prompt> alone = {"yellow truck", boxed, "truck", visual};
  for (size_t i = 0; i < alone.size(); ++i) {
    SCOPED_TRACE(i);
    const Sam3Result r = model().segment(image, alone[i], all);
    ASSERT_EQ(r.size(), together[i].size());
    for (int k = 0; k < r.size(); ++k) EXPECT_NEAR(r.scores[k], together[i].scores[k], 1e-5);
    EXPECT_EQ(r.text, together[i].text);
  }
  // The boxes change the answer: they are read.
  EXPECT_GT(std::abs(together[0].scores[0] - model().segment(image, Sam3Prompt("yellow truck"), all).scores[0]) +
                std::abs(together[1].scores[0] - model().segment(image, "a dog", all).scores[0]),
            1e-6);
}

TEST(Sam3PublicModel, LongPhrasesAreCutAndSaySo) {
  std::string longer;
  for (int i = 0; i < 40; ++i) longer += "truck ";
  bool truncated = false;
  const std::vector<int64_t> ids = model().tokenize(longer, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(static_cast<int>(ids.size()), model().text_length());
  const Sam3Result r = model().segment(load_image(data_path(kCases[0].image)), longer);
  EXPECT_TRUE(r.truncated);
  model().tokenize("truck", &truncated);
  EXPECT_FALSE(truncated);
}

TEST(Sam3PublicModel, RefusesPromptsThatNameNothingOrBoxesOutsideTheImage) {
  const Image image = load_image(data_path(kCases[0].image));  // 200 × 150
  EXPECT_NE(error_of([&] { model().segment(image, "  "); }).find("empty phrase"), std::string::npos);
  EXPECT_NE(error_of([&] { model().segment(image, std::vector<Sam3Prompt>{}); }).find("no prompt"), std::string::npos);
  Sam3Prompt p("truck");
  p.boxes = {{300, 10, 400, 50}};
  EXPECT_EQ(error_of([&] { model().segment(image, p); }), "prompt 1 box 1 (300,10,400,50): lies outside the 200×150 image");
  p.boxes = {{50, 10, 40, 50}};
  EXPECT_NE(error_of([&] { model().segment(image, p); }).find("above and left"), std::string::npos);
  p.boxes = {{10, 10, 40, 50}};
  p.box_labels = {1, 0};
  EXPECT_NE(error_of([&] { model().segment(image, p); }).find("2 box labels for 1 boxes"), std::string::npos);
  p.box_labels = {2};
  EXPECT_NE(error_of([&] { model().segment(image, p); }).find("label 2"), std::string::npos);
}

TEST(Sam3PublicModel, EmbeddingsOfAnotherModelOrFormatAreRefused) {
  Sam3ImageEmbedding e = model().encode_image(load_image(data_path(kCases[0].image)));
  e.model_fingerprint = "0123456789abcdef";
  EXPECT_NE(error_of([&] { model().detect(e, model().encode_text({"truck"})); }).find("another model"), std::string::npos);
  e.model_fingerprint.clear();
  e.levels.pop_back();
  EXPECT_NE(error_of([&] { model().detect(e, model().encode_text({"truck"})); }).find("2 levels"), std::string::npos);

  TempDir dir;
  const float x[1] = {1};
  write_safetensors(dir.file("sam.safetensors"), {{"image_embeddings", DType::F32, {1}, x}},
                    {{"format", "segkit-sam-embedding"}});
  EXPECT_EQ(error_of([&] { Sam3ImageEmbedding::load(dir.file("sam.safetensors")); }),
            dir.file("sam.safetensors") + ": a SAM embedding, not a SAM 3 one (made by segkit embed with a SAM model)");
}

TEST(Sam3PublicModel, Bfloat16StaysCloseToFloat32) {
  LoadOptions options;
  options.precision = Precision::Bf16;
  options.warn_unused = false;
  const auto bf16 = Sam3Model::load(sam3_tiny(), options);
  EXPECT_EQ(bf16->precision(), Precision::Bf16);
  EXPECT_EQ(model().precision(), Precision::Fp32);
  const Image image = load_image(data_path(kCases[0].image));
  const Sam3ImageEmbedding e16 = bf16->encode_image(image), e32 = model().encode_image(image);
  const Sam3TextEmbedding text = model().encode_text({"yellow truck"});
  const Sam3RawOutput r16 = model().detect(e16, text), r32 = model().detect(e32, text);
  // The vision encoder's products in bfloat16 (8 bits of mantissa): features and outputs within
  // a few percent, and not equal (the conversion happened).
  for (size_t i = 0; i < e16.levels.size(); ++i) {
    const double d = relative_l2(as_tensor(e16.levels[i]), as_tensor(e32.levels[i]));
    EXPECT_LE(d, 3e-2) << "level " << i;
    EXPECT_GT(d, 1e-6) << "level " << i;
  }
  EXPECT_LE(relative_l2(as_tensor(r16.pred_masks), as_tensor(r32.pred_masks)), 3e-2);
  EXPECT_LE(relative_l2(as_tensor(r16.pred_logits), as_tensor(r32.pred_logits)), 3e-2);
}

TEST(Sam3PublicModel, TheRegistryLoadsAndDescribesIt) {
  const ModelInfo info = inspect_model(sam3_tiny());
  EXPECT_EQ(info.family, "sam3");
  EXPECT_TRUE(info.runnable);
  EXPECT_EQ(info.architecture, "sam3 vit 64×4 at 168 px, text 64×2, 20 queries");
  const auto loaded = load_model(sam3_tiny());
  ASSERT_TRUE(std::dynamic_pointer_cast<const Sam3Model>(loaded));
  EXPECT_EQ(loaded->info().parameter_count, info.parameter_count);
  EXPECT_EQ(info.precisions, (std::vector<std::string>{"fp32", "bf16"}));
  EXPECT_NE(error_of([&] { require_model_family(sam3_tiny(), "sam"); }).find("use segkit predict --text"),
            std::string::npos);
}

}  // namespace
}  // namespace segkit::test
