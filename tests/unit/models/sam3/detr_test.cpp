// SAM 3's detector from the FPN level and the projected text (and exemplar boxes) to the raw
// outputs, against transformers 5.17 on the tiny fixture model (tests/data/sam3/README.md).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/sam3/detr.h"
#include "sam3_detr_fixtures.h"

namespace segkit::test {
namespace {

using sam3::Detr;

constexpr double kTolerance = 1e-4;
const std::vector<std::string> kFullCases = {"img1_text0", "synth_rgb_text0"};

const Detr& tiny_detr() {
  static const Detr d =
      Detr::load(sam3_tiny_weights(), "", sam3::parse_detr_config(sam3_tiny_config(), "config.json"));
  return d;
}

sam3::DetrInputs inputs_of(const std::string& name) {
  sam3::DetrInputs in;
  in.features = sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2");
  in.pos = sam3_detr_case(name, "act.vision_encoder.neck.1.2");
  in.text = sam3_detr_case(name, "act.detr_encoder.text_features");
  in.text_mask = sam3_detr_case(name, "in.attention_mask");
  return in;
}

void expect_raw_outputs(const sam3::DetrOutput& out, const std::string& name, int64_t row) {
  auto expected = [&](const std::string& key) { return sam3_detr_case(name, key).slice(0, row, row + 1); };
  EXPECT_LE(relative_l2(out.pred_logits, expected("out.pred_logits")), kTolerance);
  EXPECT_LE(relative_l2(out.pred_boxes, expected("out.pred_boxes")), kTolerance);
  EXPECT_LE(relative_l2(out.presence_logits, expected("out.presence_logits")), kTolerance);
  EXPECT_LE(relative_l2(out.decoder_reference_boxes,
                        sam3_detr_case(name, "out.decoder_reference_boxes").slice(1, row, row + 1)),
            kTolerance);
  EXPECT_LE(relative_l2(out.queries, sam3_detr_case(name, "act.detr_decoder.intermediate_hidden_states")[-1].slice(
                                         0, row, row + 1)),
            kTolerance);
  EXPECT_LE(relative_l2(out.encoded.memory, expected("act.detr_encoder.last_hidden_state")), kTolerance);
}

TEST(Sam3Detr, TextPromptsMatchTransformers) {
  for (const std::string& name : kFullCases) {
    SCOPED_TRACE(name);
    expect_raw_outputs(tiny_detr().forward(inputs_of(name)), name, 0);
  }
}

TEST(Sam3Detr, TextAndBoxPromptMatchesTransformers) {
  // box_batch_padded's second row: img1 with "a dog", one positive box and a padding slot.
  const std::string name = "box_batch_padded";
  sam3::DetrInputs in = inputs_of("img1_text0");
  auto row1 = [&](const std::string& key) { return sam3_detr_case(name, key).slice(0, 1, 2); };
  in.text = row1("act.detr_encoder.text_features").slice(1, 0, 32);
  in.text_mask = row1("in.attention_mask");
  in.boxes = row1("in.input_boxes");
  in.box_labels = row1("in.input_boxes_labels");
  const sam3::DetrOutput out = tiny_detr().forward(in);
  EXPECT_EQ(out.prompt.tokens.size(1), 35);
  expect_raw_outputs(out, name, 1);
}

TEST(Sam3Detr, OnePhraseForTwoImages) {
  // Both full cases ask for "truck": one prompt serves the batch.
  sam3::DetrInputs in = inputs_of(kFullCases[0]);
  in.features = at::cat({in.features, inputs_of(kFullCases[1]).features});
  const sam3::DetrOutput out = tiny_detr().forward(in);
  ASSERT_EQ(out.pred_logits.size(0), 2);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_LE(relative_l2(out.pred_logits[i], sam3_detr_case(kFullCases[i], "out.pred_logits")[0]), kTolerance);
    EXPECT_LE(relative_l2(out.pred_boxes[i], sam3_detr_case(kFullCases[i], "out.pred_boxes")[0]), kTolerance);
  }
}

TEST(Sam3Detr, BoxesWithoutAGeometryEncoderAreAnError) {
  const nn::WeightMap all = sam3_tiny_weights();
  nn::WeightMap w("no geometry");
  for (const auto& [name, t] : all.all())
    if (name.rfind("geometry_encoder.", 0) != 0) w.insert(name, t);
  const Detr d = Detr::load(w, "", sam3::parse_detr_config(sam3_tiny_config(), "config.json"));
  sam3::DetrInputs in = inputs_of(kFullCases[0]);
  EXPECT_LE(relative_l2(d.forward(in).pred_logits, sam3_detr_case(kFullCases[0], "out.pred_logits")), kTolerance);
  in.boxes = at::full({1, 1, 4}, 0.5f);
  in.box_labels = at::ones({1, 1}, at::kLong);
  EXPECT_EQ(error_of([&] { d.forward(in); }),
            "SAM 3: box prompts need the geometry encoder, which this checkpoint lacks");
}

}  // namespace
}  // namespace segkit::test
