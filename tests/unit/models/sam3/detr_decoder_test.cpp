// SAM 3's DETR decoder and scoring head against transformers 5.17 on the tiny fixture model
// (tests/data/sam3/README.md): each decoder layer (presence row included), the intermediate
// queries, reference boxes and presence logits, and the raw outputs pred_logits, pred_boxes and
// presence_logits, on single phrases, a batch of two phrases and a padded batch of text + box
// prompts; then the whole DETR chain from the FPN level.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "models/sam3/detr_decoder.h"
#include "models/sam3/detr_encoder.h"
#include "models/sam3/scoring.h"
#include "sam3_detr_fixtures.h"

namespace segkit::test {
namespace {

using sam3::DetrDecoder;
using sam3::DotProductScoring;

const std::vector<std::string> kFullCases = {"img1_text0", "synth_rgb_text0"};
const std::vector<std::string> kAllCases = {"img1_text0", "synth_rgb_text0", "batch_images", "box_batch_padded"};
constexpr double kTolerance = 1e-4;

sam3::DetrConfig tiny_config() { return sam3::parse_detr_config(sam3_tiny_config(), "config.json"); }

const DetrDecoder& tiny_decoder() {
  static const DetrDecoder d = DetrDecoder::load(sam3_tiny_weights(), "", tiny_config().decoder);
  return d;
}

const DotProductScoring& tiny_scoring() {
  static const DotProductScoring s = DotProductScoring::load(sam3_tiny_weights(), "", tiny_config().decoder);
  return s;
}

// The prompt mask as Sam3Model builds it: the text's, then the geometry tokens' where there are any.
at::Tensor prompt_mask_of(const std::string& name) {
  const at::Tensor text = sam3_detr_case(name, "in.attention_mask");
  if (name != "box_batch_padded") return text;
  return at::cat({text, sam3_detr_case(name, "act.geometry_encoder.attention_mask")}, 1);
}

sam3::DetrDecoderOutput decode(const std::string& name, bool keep_layers = false) {
  return tiny_decoder().forward(sam3_detr_case(name, "act.detr_encoder.last_hidden_state"),
                                sam3_detr_case(name, "act.detr_encoder.pos_embeds_flattened"), 12, 12,
                                sam3_detr_case(name, "act.detr_encoder.text_features"), prompt_mask_of(name),
                                keep_layers);
}

void expect_outputs_match(const std::string& name, const sam3::DetrDecoderOutput& out) {
  EXPECT_LE(relative_l2(out.hidden, sam3_detr_case(name, "act.detr_decoder.intermediate_hidden_states")), kTolerance);
  EXPECT_LE(relative_l2(out.reference_boxes, sam3_detr_case(name, "out.decoder_reference_boxes")), kTolerance);
  EXPECT_LE(relative_l2(out.presence_logits, sam3_detr_case(name, "act.detr_decoder.presence_logits")), kTolerance);
  EXPECT_LE(relative_l2(out.presence_logits[-1], sam3_detr_case(name, "out.presence_logits")), kTolerance);
  EXPECT_LE(relative_l2(sam3::cxcywh_to_xyxy(out.boxes), sam3_detr_case(name, "out.pred_boxes")), kTolerance);
  const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
  const at::Tensor all = tiny_scoring()(out.hidden, prompt, prompt_mask_of(name));
  EXPECT_LE(relative_l2(all, sam3_detr_case(name, "act.dot_product_scoring").squeeze(-1)), kTolerance);
  const at::Tensor last = tiny_scoring()(out.hidden[-1], prompt, prompt_mask_of(name));
  EXPECT_LE(relative_l2(last, sam3_detr_case(name, "out.pred_logits")), kTolerance);
}

TEST(Sam3DetrDecoder, EveryLayerMatchesTransformers) {
  for (const std::string& name : kFullCases) {
    SCOPED_TRACE(name);
    const sam3::DetrDecoderOutput out = decode(name, /*keep_layers=*/true);
    ASSERT_EQ(out.layers.size(), 2u);
    for (size_t i = 0; i < out.layers.size(); ++i)
      EXPECT_LE(relative_l2(out.layers[i], sam3_detr_case(name, "act.detr_decoder.layers." + std::to_string(i))),
                kTolerance)
          << "layer " << i;
  }
}

TEST(Sam3DetrDecoder, OutputsMatchTransformers) {
  for (const std::string& name : kAllCases) {
    SCOPED_TRACE(name);
    const sam3::DetrDecoderOutput out = decode(name);
    EXPECT_EQ(out.hidden.sizes(), (std::vector<int64_t>{2, out.boxes.size(0), 20, 32}));
    expect_outputs_match(name, out);
  }
}

TEST(Sam3DetrDecoder, FromTheFpnLevelThroughEncoderDecoderAndScoring) {
  const sam3::DetrEncoder encoder = sam3::DetrEncoder::load(sam3_tiny_weights(), "", tiny_config().encoder);
  for (const std::string& name : kFullCases) {
    SCOPED_TRACE(name);
    const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
    const at::Tensor mask = sam3_detr_case(name, "in.attention_mask");
    const sam3::DetrEncoderOutput encoded =
        encoder.forward(sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2"),
                        sam3_detr_case(name, "act.vision_encoder.neck.1.2"), prompt, mask);
    expect_outputs_match(name, tiny_decoder().forward(encoded, prompt, mask));
  }
}

TEST(Sam3DetrDecoder, LoadsUnderTheSam3VideoPrefix) {
  const nn::WeightMap w = sam3_tiny_weights("detector_model.");
  const DetrDecoder d = DetrDecoder::load(w, "detector_model.", tiny_config().decoder);
  const DotProductScoring s = DotProductScoring::load(w, "detector_model.", tiny_config().decoder);
  const std::string name = "batch_images";
  const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
  const auto out = d.forward(sam3_detr_case(name, "act.detr_encoder.last_hidden_state"),
                             sam3_detr_case(name, "act.detr_encoder.pos_embeds_flattened"), 12, 12, prompt,
                             prompt_mask_of(name));
  EXPECT_LE(relative_l2(s(out.hidden[-1], prompt, prompt_mask_of(name)), sam3_detr_case(name, "out.pred_logits")),
            kTolerance);
}

TEST(Sam3DetrDecoder, LoadChecksShapesAgainstTheConfig) {
  const sam3::DetrDecoderConfig c = tiny_config().decoder;
  sam3::DetrDecoderConfig wrong = c;
  wrong.num_queries = 200;
  EXPECT_NE(error_of([&] { DetrDecoder::load(sam3_tiny_weights(), "", wrong); }).find("query_embed"),
            std::string::npos);
  wrong = c;
  wrong.num_heads = 8;
  EXPECT_NE(error_of([&] { DetrDecoder::load(sam3_tiny_weights(), "", wrong); }).find("box_rpb_embed_x"),
            std::string::npos);
  wrong = c;
  wrong.num_layers = 6;
  EXPECT_NE(error_of([&] { DetrDecoder::load(sam3_tiny_weights(), "", wrong); }).find("has 2 layers"),
            std::string::npos);
  wrong = c;
  wrong.intermediate_size = 2048;
  EXPECT_NE(error_of([&] { DotProductScoring::load(sam3_tiny_weights(), "", wrong); }).find("text_mlp.layer1"),
            std::string::npos);
}

TEST(Sam3DetrDecoder, ForwardChecksShapes) {
  const std::string name = "batch_images";
  const at::Tensor memory = sam3_detr_case(name, "act.detr_encoder.last_hidden_state");
  const at::Tensor pos = sam3_detr_case(name, "act.detr_encoder.pos_embeds_flattened");
  const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
  const at::Tensor mask = prompt_mask_of(name);
  const DetrDecoder& d = tiny_decoder();
  for (const std::string& err : {error_of([&] { d.forward(memory, pos, 12, 11, prompt, mask); }),
                                 error_of([&] { d.forward(memory, pos.slice(0, 0, 1), 12, 12, prompt, mask); }),
                                 error_of([&] { d.forward(memory, pos, 12, 12, prompt.slice(0, 0, 1), mask); }),
                                 error_of([&] { d.forward(memory, pos, 12, 12, prompt, mask.slice(1, 0, 3)); })}) {
    EXPECT_EQ(err.rfind("SAM 3 DETR decoder: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  const at::Tensor queries = d.forward(memory, pos, 12, 12, prompt, mask).hidden;
  for (const std::string& err : {error_of([&] { tiny_scoring()(queries.slice(1, 0, 1), prompt, mask); }),
                                 error_of([&] { tiny_scoring()(queries, prompt.slice(2, 0, 8), mask); }),
                                 error_of([&] { tiny_scoring()(queries, prompt, mask.slice(0, 0, 1)); })}) {
    EXPECT_EQ(err.rfind("SAM 3 scoring: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace segkit::test
