// Every family's public API gives on another device what it gives on the CPU. The device is
// SEGKIT_TEST_DEVICE ("cuda", "cuda:1"; scripts/gpu-check.sh sets it on a GPU machine); unset, the
// other side is the CPU with the ATen path forced (kernels/aten_path.h), which runs there the
// code a GPU runs. The CPU side is checked against the reference implementations elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "kernels/aten_path.h"
#include "mask2former_fixtures.h"
#include "sam3_vision_fixtures.h"
#include "sam_fixtures.h"
#include "segkit/mask2former.h"
#include "segkit/sam.h"
#include "segkit/sam_generator.h"
#include "segkit/sam3.h"

using namespace segkit;

namespace {

// The device under test, and a guard that forces the ATen path while the other side runs on
// the CPU.
struct OtherSide {
  Device device;
  bool on_cpu = true;
  OtherSide() {
    const char* name = std::getenv("SEGKIT_TEST_DEVICE");
    device = parse_device(name && *name ? name : "cpu");
    on_cpu = device.kind == Device::Kind::Cpu;
  }
  LoadOptions options(Precision precision = Precision::Fp32) const {
    LoadOptions o = test::quiet_load_options();
    o.device = device;
    o.precision = precision;
    return o;
  }
  std::string name() const { return on_cpu ? "cpu (ATen path)" : device_name(device); }
};

// While it lives, the ATen path is forced if the other side is the CPU.
class OtherSideScope {
 public:
  explicit OtherSideScope(const OtherSide& other) {
    if (other.on_cpu) force_.emplace();
  }

 private:
  std::optional<kernels::ForceAtenPath> force_;
};

double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  return test::relative_l2(a.data(), b.data(), std::min(a.size(), b.size()));
}

double agreement(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  size_t same = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) same += a[i] == b[i];
  return a.empty() ? 1.0 : double(same) / double(a.size());
}

Image case_image() { return test::sam_case_image(*test::sam_case_file(test::sam_case_index()[0]["image"])); }

}  // namespace

TEST(DeviceParity, SamEmbeddingsAndMasks) {
  const OtherSide other;
  const Image image = case_image();
  SamPrompt prompt;
  prompt.points = {{float(image.width) / 3, float(image.height) / 2}};
  prompt.labels = {1};
  prompt.box = std::array<float, 4>{2, 3, float(image.width) - 5, float(image.height) - 4};
  auto run = [&](const LoadOptions& options) {
    SamPredictor predictor(SamModel::load(test::sam_tiny_hf(), options));
    predictor.set_image(image);
    return std::make_pair(predictor.embedding(), predictor.predict_batch({prompt, prompt}, true));
  };
  const auto [cpu_embedding, cpu_masks] = run(test::quiet_load_options());
  const OtherSideScope scope(other);
  const auto [embedding, masks] = run(other.options());
  EXPECT_LT(relative_l2(embedding.data, cpu_embedding.data), 1e-4) << other.name();
  for (size_t b = 0; b < masks.size(); ++b) {
    EXPECT_LT(relative_l2(masks[b].iou_predictions, cpu_masks[b].iou_predictions), 1e-4) << other.name();
    EXPECT_LT(relative_l2(masks[b].mask_logits, cpu_masks[b].mask_logits), 1e-4) << other.name();
    EXPECT_GT(agreement(masks[b].masks, cpu_masks[b].masks), 0.999) << other.name();
  }
}

TEST(DeviceParity, SamBfloat16StaysCloseToFloat32) {
  const OtherSide other;
  const Image image = case_image();
  SamPredictor fp32(SamModel::load(test::sam_tiny_hf(), test::quiet_load_options()));
  fp32.set_image(image);
  const OtherSideScope scope(other);
  SamPredictor bf16(SamModel::load(test::sam_tiny_hf(), other.options(Precision::Bf16)));
  bf16.set_image(image);
  const double error = relative_l2(bf16.embedding().data, fp32.embedding().data);
  EXPECT_GT(error, 0.0) << other.name() << ": bf16 should differ from fp32 at all";
  EXPECT_LT(error, 0.05) << other.name();
}

TEST(DeviceParity, SamEverything) {
  const OtherSide other;
  const Image image = case_image();
  SamGeneratorParams params;
  params.points_per_side = 8;
  params.pred_iou_thresh = 0;  // random weights: keep what they give
  params.stability_score_thresh = 0;
  auto run = [&](const LoadOptions& options) {
    return SamMaskGenerator(SamModel::load(test::sam_tiny_hf(), options), params).generate(image);
  };
  const auto cpu = run(test::quiet_load_options());
  const OtherSideScope scope(other);
  const auto masks = run(other.options());
  ASSERT_FALSE(cpu.empty());
  ASSERT_EQ(masks.size(), cpu.size()) << other.name();
  for (size_t i = 0; i < masks.size(); ++i) {
    EXPECT_NEAR(masks[i].predicted_iou, cpu[i].predicted_iou, 1e-4) << other.name() << " mask " << i;
    EXPECT_NEAR(masks[i].stability_score, cpu[i].stability_score, 1e-3) << other.name() << " mask " << i;
  }
}

TEST(DeviceParity, Mask2FormerLogitsAndSegments) {
  const OtherSide other;
  const Image image = case_image();
  auto run = [&](const LoadOptions& options) {
    const auto model = Mask2FormerModel::load(test::mask2former_tiny(), options);
    return std::make_pair(model->forward(model->preprocess(image)), model->segment(image, SegmentationTask::Panoptic));
  };
  const auto [cpu_out, cpu_segments] = run(test::quiet_load_options());
  const OtherSideScope scope(other);
  const auto [out, segments] = run(other.options());
  EXPECT_LT(relative_l2(out.class_logits.data, cpu_out.class_logits.data), 1e-4) << other.name();
  EXPECT_LT(relative_l2(out.mask_logits.data, cpu_out.mask_logits.data), 1e-4) << other.name();
  ASSERT_FALSE(cpu_segments.segments.empty());
  EXPECT_EQ(segments.segments.size(), cpu_segments.segments.size()) << other.name();
  size_t same = 0;
  for (size_t i = 0; i < segments.ids.size(); ++i) same += segments.ids[i] == cpu_segments.ids[i];
  EXPECT_GT(double(same) / double(std::max<size_t>(1, segments.ids.size())), 0.999) << other.name();
}

TEST(DeviceParity, Sam3Phrases) {
  const OtherSide other;
  const Image image = case_image();
  Sam3Options keep_all;  // random weights: every query
  keep_all.threshold = 0;
  auto run = [&](const LoadOptions& options) {
    return Sam3Model::load(test::sam3_tiny(), options)->segment(image, "a cat", keep_all);
  };
  const Sam3Result cpu = run(test::quiet_load_options());
  const OtherSideScope scope(other);
  const Sam3Result r = run(other.options());
  ASSERT_GT(cpu.size(), 0);
  ASSERT_EQ(r.queries, cpu.queries) << other.name();
  EXPECT_LT(relative_l2(r.scores, cpu.scores), 1e-4) << other.name();
  for (int i = 0; i < r.size(); ++i)
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(r.boxes[size_t(i)][size_t(k)], cpu.boxes[size_t(i)][size_t(k)], 1e-2);
  EXPECT_GT(agreement(r.masks, cpu.masks), 0.999) << other.name();
}
