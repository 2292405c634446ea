// SAM against the official implementation's outputs on the tiny random-weight model, for both
// checkpoint formats, every fixture image and every prompt case.
#include <ATen/ops/from_blob.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "models/sam/preprocess.h"
#include "models/sam/sam_model_impl.h"
#include "sam_fixtures.h"
#include "segkit/sam.h"

using namespace segkit;
using segkit::test::relative_l2;

namespace {

struct Format {
  const char* name;
  std::string (*path)();
};

class SamGolden : public ::testing::TestWithParam<Format> {
 protected:
  static std::shared_ptr<const SamModel> model(const Format& f) { return SamModel::load(f.path(), segkit::test::quiet_load_options()); }
};

std::vector<float> tensor_floats(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

TEST(SamPreprocess, ResizeMatchesPillowOnEveryFixtureImage) {
  for (const auto& entry : test::sam_case_index()) {
    auto f = test::sam_case_file(entry["image"]);
    Image resized = sam::resize_longest_side(test::sam_case_image(*f), 256);
    const TensorView& want = f->get("input_resized");
    ASSERT_EQ(resized.height, want.shape[0]);
    ASSERT_EQ(resized.width, want.shape[1]);
    size_t off_by_one = 0, worse = 0;
    for (size_t i = 0; i < want.nbytes; ++i) {
      int d = std::abs(int(resized.rgb[i]) - int(want.data[i]));
      off_by_one += d == 1;
      worse += d > 1;
    }
    EXPECT_EQ(worse, 0u) << entry["image"];
    EXPECT_LE(off_by_one, want.nbytes / 200) << entry["image"];
  }
}

TEST_P(SamGolden, EncoderMatchesUpstreamIntermediates) {
  auto m = model(GetParam());
  c10::InferenceMode guard;
  for (const auto& entry : test::sam_case_index()) {
    const std::string image = entry["image"];
    auto f = test::sam_case_file(image);
    Image resized = sam::resize_longest_side(test::sam_case_image(*f), m->config().image_size);
    at::Tensor input = sam::normalize_and_pad(resized, m->config());
    std::vector<float> want_input = f->to_float("input_tensor");
    EXPECT_LT(relative_l2(input.data_ptr<float>(), want_input.data(), want_input.size()), 1e-6) << image;

    std::map<std::string, at::Tensor> taps;
    at::Tensor emb = segkit::sam::Internals::of(*m).image_encoder.forward(input, [&](const std::string& n, const at::Tensor& t) { taps[n] = t.squeeze(0); });
    for (const auto& [name, t] : taps) {
      std::vector<float> want = f->to_float("intermediate.enc." + name);
      std::vector<float> got = tensor_floats(t);
      ASSERT_EQ(got.size(), want.size()) << name;
      EXPECT_LT(relative_l2(got.data(), want.data(), want.size()), 1e-4) << image << " " << name;
    }
    EXPECT_EQ(taps.size(), 2u + m->config().encoder_depth);
    std::vector<float> want_emb = f->to_float("image_embeddings"), got_emb = tensor_floats(emb);
    ASSERT_EQ(got_emb.size(), want_emb.size());
    EXPECT_LT(relative_l2(got_emb.data(), want_emb.data(), want_emb.size()), 1e-4) << image;
    std::vector<float> want_pe = f->to_float("dense_pe"), got_pe = tensor_floats(segkit::sam::Internals::of(*m).dense_pe);
    EXPECT_LT(relative_l2(got_pe.data(), want_pe.data(), want_pe.size()), 1e-6) << image;
  }
}

TEST_P(SamGolden, EveryPromptCaseMatchesUpstream) {
  auto m = model(GetParam());
  SamPredictor predictor(m);
  int cases = 0;
  for (const auto& entry : test::sam_case_index()) {
    const std::string image = entry["image"];
    auto f = test::sam_case_file(image);
    predictor.set_image(test::sam_case_image(*f));
    for (const auto& pc : entry["prompts"]) {
      const std::string name = pc["name"];
      const std::string where = image + "/" + name;
      SamPrompt prompt;
      prompt.multimask = pc["multimask_output"];
      if (f->contains(name + ".point_coords")) {
        std::vector<float> xy = f->to_float(name + ".point_coords");
        const TensorView& lab = f->get(name + ".point_labels");
        for (size_t i = 0; i < xy.size() / 2; ++i) {
          prompt.points.push_back({xy[2 * i], xy[2 * i + 1]});
          int32_t l;
          std::memcpy(&l, lab.data + 4 * i, 4);
          prompt.labels.push_back(l);
        }
      }
      if (f->contains(name + ".box")) {
        std::vector<float> b = f->to_float(name + ".box");
        prompt.box = std::array<float, 4>{b[0], b[1], b[2], b[3]};
      }
      if (f->contains(name + ".mask_input")) prompt.mask_input = f->to_float(name + ".mask_input");

      SamPrediction p = predictor.predict(prompt, /*return_logits=*/true);
      std::vector<float> iou = f->to_float(name + ".iou_predictions");
      ASSERT_EQ(p.num_masks, static_cast<int>(iou.size())) << where;
      for (size_t k = 0; k < iou.size(); ++k) EXPECT_NEAR(p.iou_predictions[k], iou[k], 1e-4) << where;
      std::vector<float> low = f->to_float(name + ".low_res_logits");
      ASSERT_EQ(p.low_res_logits.size(), low.size()) << where;
      EXPECT_LT(relative_l2(p.low_res_logits.data(), low.data(), low.size()), 1e-3) << where;
      const TensorView& masks = f->get(name + ".masks");
      ASSERT_EQ(p.masks.size(), masks.nbytes) << where;
      size_t equal = 0;
      for (size_t i = 0; i < masks.nbytes; ++i) equal += (p.masks[i] != 0) == (masks.data[i] != 0);
      EXPECT_GE(equal, masks.nbytes * 999 / 1000) << where;
      if (f->contains(name + ".mask_logits")) {
        std::vector<float> logits = f->to_float(name + ".mask_logits");
        EXPECT_LT(relative_l2(p.mask_logits.data(), logits.data(), logits.size()), 1e-3) << where;
      }
      ++cases;
    }
  }
  EXPECT_EQ(cases, 21);
}

INSTANTIATE_TEST_SUITE_P(Formats, SamGolden,
                         ::testing::Values(Format{"hf", &test::sam_tiny_hf}, Format{"pth", &test::sam_tiny_pth}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SamFormats, OfficialAndHuggingFaceCheckpointsGiveIdenticalOutputs) {
  auto hf = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  auto pth = SamModel::load(test::sam_tiny_pth(), segkit::test::quiet_load_options());
  EXPECT_EQ(hf->fingerprint(), pth->fingerprint());
  auto f = test::sam_case_file("dog");
  Image image = test::sam_case_image(*f);
  SamPredictor a(hf), b(pth);
  a.set_image(image);
  b.set_image(image);
  EXPECT_EQ(a.embedding().data, b.embedding().data);
  SamPrompt prompt;
  prompt.points = {{100.f, 120.f}, {300.f, 200.f}};
  prompt.labels = {1, 0};
  prompt.box = std::array<float, 4>{20.f, 30.f, 400.f, 300.f};
  SamPrediction pa = a.predict(prompt, true), pb = b.predict(prompt, true);
  EXPECT_EQ(pa.iou_predictions, pb.iou_predictions);
  EXPECT_EQ(pa.mask_logits, pb.mask_logits);
  EXPECT_EQ(pa.masks, pb.masks);
}
