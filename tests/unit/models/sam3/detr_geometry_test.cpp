// SAM 3's geometry (exemplar box) encoder and the prompt it forms with the text, against
// transformers 5.17 on the tiny fixture model (tests/data/sam3/README.md). The fixture's padded box
// batch has vision features only for its second image (img1, hooked in img1_text0): one positive
// box and one padding slot; that row is checked alone, through the prompt, the DETR encoder and
// decoder to the raw outputs.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "kernels/aten_path.h"
#include "models/sam3/config.h"
#include "models/sam3/detr_decoder.h"
#include "models/sam3/detr_encoder.h"
#include "models/sam3/geometry_encoder.h"
#include "models/sam3/scoring.h"
#include "sam3_detr_fixtures.h"

namespace segkit::test {
namespace {

using sam3::GeometryEncoder;

constexpr double kTolerance = 1e-4;
const std::string kBoxes = "box_batch_padded";
const std::string kImage = "img1_text0";  // the image of kBoxes' row 1

sam3::DetrConfig tiny_config() { return sam3::parse_detr_config(sam3_tiny_config(), "config.json"); }

const GeometryEncoder& tiny_geometry() {
  static const GeometryEncoder g = GeometryEncoder::load(sam3_tiny_weights(), "", tiny_config().geometry);
  return g;
}

at::Tensor row1(const std::string& key) { return sam3_detr_case(kBoxes, key).slice(0, 1, 2); }
at::Tensor features() { return sam3_detr_case(kImage, "act.vision_encoder.neck.fpn_layers.2"); }
at::Tensor position() { return sam3_detr_case(kImage, "act.vision_encoder.neck.1.2"); }

sam3::GeometryEncoderOutput encode_row1() {
  return tiny_geometry().forward(features(), position(), row1("in.input_boxes"), row1("in.input_boxes_labels"));
}

TEST(Sam3DetrGeometry, TinyConfig) {
  const sam3::GeometryEncoderConfig c = tiny_config().geometry;
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.roi_size, 7);
  const sam3::GeometryEncoderConfig d = sam3::parse_detr_config(nlohmann::json::object(), "c.json").geometry;
  EXPECT_EQ(d.hidden_size, 256);
  EXPECT_EQ(d.num_layers, 3);
  nlohmann::json root = sam3_tiny_config();
  root["geometry_encoder_config"]["hidden_size"] = 64;
  EXPECT_NE(error_of([&] { sam3::parse_detr_config(root, "c.json"); })
                .find("c.json geometry_encoder_config: \"hidden_size\" 64 differs"),
            std::string::npos);
  root = sam3_tiny_config();
  root["geometry_encoder_config"]["roi_size"] = 0;
  EXPECT_EQ(error_of([&] { sam3::parse_detr_config(root, "c.json"); })
                .rfind("c.json geometry_encoder_config: \"roi_size\"", 0),
            0u);
}

TEST(Sam3DetrGeometry, BoxTokensMatchTransformers) {
  const sam3::GeometryEncoderOutput out = encode_row1();
  // Every slot, the masked one included, is computed as transformers does.
  EXPECT_LE(relative_l2(out.tokens, row1("act.geometry_encoder.last_hidden_state")), kTolerance);
  EXPECT_TRUE(out.mask.equal(row1("act.geometry_encoder.attention_mask").ne(0)));
}

TEST(Sam3DetrGeometry, PromptAndDetrOutputsMatchTransformers) {
  const auto c = tiny_config();
  const at::Tensor text = row1("act.detr_encoder.text_features").slice(1, 0, 32);
  const sam3::Prompt prompt = sam3::concat_prompt(text, row1("in.attention_mask"), encode_row1());
  EXPECT_LE(relative_l2(prompt.tokens, row1("act.detr_encoder.text_features")), kTolerance);
  const auto encoder = sam3::DetrEncoder::load(sam3_tiny_weights(), "", c.encoder);
  const auto decoder = sam3::DetrDecoder::load(sam3_tiny_weights(), "", c.decoder);
  const auto scoring = sam3::DotProductScoring::load(sam3_tiny_weights(), "", c.decoder);
  const auto encoded = encoder.forward(features(), position(), prompt.tokens, prompt.mask);
  EXPECT_LE(relative_l2(encoded.memory, row1("act.detr_encoder.last_hidden_state")), kTolerance);
  const auto decoded = decoder.forward(encoded, prompt.tokens, prompt.mask);
  EXPECT_LE(relative_l2(decoded.reference_boxes, sam3_detr_case(kBoxes, "out.decoder_reference_boxes").slice(1, 1, 2)),
            kTolerance);
  EXPECT_LE(relative_l2(sam3::cxcywh_to_xyxy(decoded.boxes), row1("out.pred_boxes")), kTolerance);
  EXPECT_LE(relative_l2(decoded.presence_logits[-1], row1("out.presence_logits")), kTolerance);
  EXPECT_LE(relative_l2(scoring(decoded.hidden[-1], prompt.tokens, prompt.mask), row1("out.pred_logits")), kTolerance);
}

TEST(Sam3DetrGeometry, MorePaddingSlotsChangeNoRealToken) {
  // Row 0 as the fixture's row 1; row 1 the same with its padding slot turned into a second one.
  const at::Tensor boxes = row1("in.input_boxes"), labels = row1("in.input_boxes_labels");
  const at::Tensor padded_boxes = at::cat({boxes, boxes.slice(1, 1, 2)}, 1);
  const at::Tensor padded_labels = at::cat({labels, labels.slice(1, 1, 2)}, 1);
  const auto out = tiny_geometry().forward(features(), position(), padded_boxes, padded_labels);
  ASSERT_EQ(out.tokens.sizes(), (std::vector<int64_t>{1, 4, 32}));
  EXPECT_TRUE(out.mask.equal(at::tensor({1, 1, 0, 0}).ne(0).view({1, 4})));
  const at::Tensor expected = row1("act.geometry_encoder.last_hidden_state").slice(1, 0, 2);
  EXPECT_LE(relative_l2(out.tokens.slice(1, 0, 2), expected), kTolerance);
}

TEST(Sam3DetrGeometry, TextOfBatchOneIsRepeatedForTheBoxes) {
  const at::Tensor text = row1("act.detr_encoder.text_features").slice(1, 0, 32);
  const auto one = encode_row1();
  const sam3::GeometryEncoderOutput two{at::cat({one.tokens, one.tokens}), at::cat({one.mask, one.mask})};
  const sam3::Prompt p = sam3::concat_prompt(text, row1("in.attention_mask"), two);
  ASSERT_EQ(p.tokens.sizes(), (std::vector<int64_t>{2, 35, 32}));
  EXPECT_TRUE(p.tokens[0].equal(p.tokens[1]));
  EXPECT_TRUE(p.mask[1].equal(p.mask[0]));
  const sam3::Prompt alone = sam3::concat_prompt(text, {}, {});
  EXPECT_TRUE(alone.mask.all().item<bool>());
  EXPECT_EQ(alone.tokens.size(1), 32);
}

TEST(Sam3DetrGeometry, RoiAlignSamplesAsTorchvision) {
  // A 1-channel ramp f(y, x) = 10y + x: bilinear sampling of a linear map is exact, so each bin is
  // its sample points' mean; outside the one-cell border samples count as zero.
  const at::Tensor f = (at::arange(4, at::kFloat).view({4, 1}) * 10 + at::arange(5, at::kFloat)).view({1, 1, 4, 5});
  const at::Tensor inside = sam3::roi_align(f, at::tensor({0.5f, 0.5f, 2.5f, 2.5f}).view({1, 1, 4}), 2);
  // 2 × 2 box, 2 bins a side, one sample per bin at the bin centre: (1, 1), (1, 2), (2, 1), (2, 2).
  EXPECT_TRUE(inside.view(-1).allclose(at::tensor({11.f, 12.f, 21.f, 22.f}), 0, 1e-5)) << inside;
  const at::Tensor outside = sam3::roi_align(f, at::tensor({-30.f, -30.f, -29.f, -29.f}).view({1, 1, 4}), 2);
  EXPECT_EQ(outside.abs().sum().item<float>(), 0.0f);
  // Past the last row and column, samples clamp to the edge.
  const at::Tensor edge = sam3::roi_align(f, at::tensor({4.2f, 3.2f, 4.8f, 3.8f}).view({1, 1, 4}), 1);
  EXPECT_FLOAT_EQ(edge.item<float>(), 34.0f);
}

TEST(Sam3DetrGeometry, RoiAlignOnTheAtenPathPoolsAsTheLoop) {
  // Boxes inside, across the border, past the last cell, degenerate and far outside, with
  // one or several samples per bin; two images.
  const at::Tensor f = at::randn({2, 5, 9, 11});
  const at::Tensor boxes = at::tensor({0.5f, 0.5f, 6.5f, 4.5f,  -0.7f, -0.4f, 3.0f, 8.9f,  9.2f, 7.1f, 10.8f, 8.8f,
                                       2.0f, 3.0f, 2.0f, 3.0f,  -30.f, -30.f, -29.f, -29.f, 0.0f, 0.0f, 11.0f, 9.0f})
                               .view({2, 3, 4});
  const at::Tensor loop = sam3::roi_align(f, boxes, 7);
  const kernels::ForceAtenPath aten;
  const at::Tensor pooled = sam3::roi_align(f, boxes, 7);
  ASSERT_EQ(pooled.sizes(), loop.sizes());
  EXPECT_TRUE(pooled.allclose(loop, 0, 1e-5)) << (pooled - loop).abs().max();
}

TEST(Sam3DetrGeometry, BadInputsAreOneLineErrors) {
  const at::Tensor boxes = row1("in.input_boxes"), labels = row1("in.input_boxes_labels");
  const GeometryEncoder& g = tiny_geometry();
  for (const std::string& err :
       {error_of([&] { g.forward(features(), position(), boxes.slice(2, 0, 3), labels); }),
        error_of([&] { g.forward(features(), position(), boxes, labels.slice(1, 0, 1)); }),
        error_of([&] { g.forward(features(), position(), boxes, labels.to(at::kFloat)); }),
        error_of([&] { g.forward(features(), position(), boxes, labels * 2); }),
        error_of([&] { g.forward(features().slice(1, 0, 16), position(), boxes, labels); }),
        error_of([&] { g.forward(features(), position().slice(3, 0, 6), boxes, labels); })}) {
    EXPECT_EQ(err.rfind("SAM 3 geometry encoder: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  sam3::GeometryEncoderConfig wrong = tiny_config().geometry;
  wrong.roi_size = 5;
  EXPECT_NE(error_of([&] { GeometryEncoder::load(sam3_tiny_weights(), "", wrong); }).find("boxes_pool_project"),
            std::string::npos);
}

}  // namespace
}  // namespace segkit::test
