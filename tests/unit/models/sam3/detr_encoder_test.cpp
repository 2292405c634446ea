// SAM 3's DETR encoder against transformers 5.17 on the tiny fixture model
// (tests/data/sam3/README.md): each layer and the output on the fully hooked cases, batched, and
// the shape checks of loading and forward.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "models/sam3/detr_encoder.h"
#include "sam3_detr_fixtures.h"

namespace segkit::test {
namespace {

using sam3::DetrEncoder;

const std::vector<std::string> kFullCases = {"img1_text0", "synth_rgb_text0"};
constexpr double kTolerance = 1e-4;

const DetrEncoder& tiny_encoder() {
  static const DetrEncoder e =
      DetrEncoder::load(sam3_tiny_weights(), "", sam3::parse_detr_config(sam3_tiny_config(), "config.json").encoder);
  return e;
}

TEST(Sam3DetrEncoder, EveryLayerMatchesTransformers) {
  for (const std::string& name : kFullCases) {
    SCOPED_TRACE(name);
    const sam3::DetrEncoderOutput out =
        tiny_encoder().forward(sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2"),
                               sam3_detr_case(name, "act.vision_encoder.neck.1.2"),
                               sam3_detr_case(name, "act.detr_encoder.text_features"),
                               sam3_detr_case(name, "in.attention_mask"), /*keep_layers=*/true);
    EXPECT_EQ(out.height, 12);
    EXPECT_EQ(out.width, 12);
    EXPECT_LE(relative_l2(out.pos, sam3_detr_case(name, "act.detr_encoder.pos_embeds_flattened")), 1e-7);
    ASSERT_EQ(out.layers.size(), 2u);
    for (size_t i = 0; i < out.layers.size(); ++i)
      EXPECT_LE(relative_l2(out.layers[i], sam3_detr_case(name, "act.detr_encoder.layers." + std::to_string(i))),
                kTolerance)
          << "layer " << i;
    EXPECT_LE(relative_l2(out.memory, sam3_detr_case(name, "act.detr_encoder.last_hidden_state")), kTolerance);
  }
}

TEST(Sam3DetrEncoder, BatchOfTwoImagesMatchesEachAlone) {
  std::vector<at::Tensor> features, pos, prompt, mask, expected;
  for (const std::string& name : kFullCases) {
    features.push_back(sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2"));
    pos.push_back(sam3_detr_case(name, "act.vision_encoder.neck.1.2"));
    prompt.push_back(sam3_detr_case(name, "act.detr_encoder.text_features"));
    mask.push_back(sam3_detr_case(name, "in.attention_mask"));
    expected.push_back(sam3_detr_case(name, "act.detr_encoder.last_hidden_state"));
  }
  // A shorter prompt in row 1 (its padding cut at a different place) must not change row 0.
  const sam3::DetrEncoderOutput out =
      tiny_encoder().forward(at::cat(features), pos[0], at::cat(prompt), at::cat(mask));
  ASSERT_EQ(out.memory.size(0), 2);
  for (int64_t i = 0; i < 2; ++i) EXPECT_LE(relative_l2(out.memory[i], expected[i][0]), kTolerance) << i;
}

// The vision encoder's levels come out channels-last, where flattening and transposing to
// tokens is already contiguous: the encoder must still work on a copy, or every call would add
// its layers into the caller's image features (and a second phrase would see other features).
TEST(Sam3DetrEncoder, LeavesChannelsLastFeaturesUntouched) {
  const std::string name = kFullCases[0];
  const at::Tensor features = sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2");
  const at::Tensor channels_last = features.contiguous(at::MemoryFormat::ChannelsLast);
  ASSERT_TRUE(channels_last.flatten(2).transpose(1, 2).is_contiguous());
  const at::Tensor before = channels_last.clone();
  const at::Tensor pos = sam3_detr_case(name, "act.vision_encoder.neck.1.2");
  const at::Tensor text = sam3_detr_case(name, "act.detr_encoder.text_features");
  const at::Tensor mask = sam3_detr_case(name, "in.attention_mask");
  const sam3::DetrEncoderOutput first = tiny_encoder().forward(channels_last, pos, text, mask);
  EXPECT_TRUE(at::equal(channels_last, before));
  const sam3::DetrEncoderOutput second = tiny_encoder().forward(channels_last, pos, text, mask);
  EXPECT_TRUE(at::equal(first.memory, second.memory));
  EXPECT_LE(relative_l2(first.memory, tiny_encoder().forward(features, pos, text, mask).memory), 1e-6);
}

TEST(Sam3DetrEncoder, MissingMaskMeansEveryTokenIsReal) {
  const std::string name = kFullCases[0];
  const at::Tensor mask = sam3_detr_case(name, "in.attention_mask");
  const int64_t real = mask.sum().item<int64_t>();
  // The real tokens alone with no mask give what the padded prompt gives under its mask.
  const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
  const at::Tensor features = sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2");
  const at::Tensor pos = sam3_detr_case(name, "act.vision_encoder.neck.1.2");
  const auto trimmed = tiny_encoder().forward(features, pos, prompt.slice(1, 0, real), {});
  EXPECT_LE(relative_l2(trimmed.memory, sam3_detr_case(name, "act.detr_encoder.last_hidden_state")), kTolerance);
}

TEST(Sam3DetrEncoder, LoadsUnderTheSam3VideoPrefix) {
  const sam3::DetrEncoderConfig c = sam3::parse_detr_config(sam3_tiny_config(), "config.json").encoder;
  const DetrEncoder e = DetrEncoder::load(sam3_tiny_weights("detector_model."), "detector_model.", c);
  const std::string name = kFullCases[1];
  const auto out = e.forward(sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2"),
                             sam3_detr_case(name, "act.vision_encoder.neck.1.2"),
                             sam3_detr_case(name, "act.detr_encoder.text_features"),
                             sam3_detr_case(name, "in.attention_mask"));
  EXPECT_LE(relative_l2(out.memory, sam3_detr_case(name, "act.detr_encoder.last_hidden_state")), kTolerance);
}

TEST(Sam3DetrEncoder, LoadChecksShapesAgainstTheConfig) {
  const sam3::DetrEncoderConfig c = sam3::parse_detr_config(sam3_tiny_config(), "config.json").encoder;
  sam3::DetrEncoderConfig wrong = c;
  wrong.num_layers = 3;
  EXPECT_NE(error_of([&] { DetrEncoder::load(sam3_tiny_weights(), "", wrong); }).find("has 2 layers"),
            std::string::npos);
  wrong = c;
  wrong.intermediate_size = 65;
  EXPECT_NE(error_of([&] { DetrEncoder::load(sam3_tiny_weights(), "", wrong); }).find("mlp.fc1.weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { DetrEncoder::load(sam3_tiny_weights(), "detector_model.", c); }).find("has 0 layers"),
            std::string::npos);
}

TEST(Sam3DetrEncoder, ForwardChecksShapes) {
  const std::string name = kFullCases[0];
  const at::Tensor features = sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2");
  const at::Tensor pos = sam3_detr_case(name, "act.vision_encoder.neck.1.2");
  const at::Tensor prompt = sam3_detr_case(name, "act.detr_encoder.text_features");
  const at::Tensor mask = sam3_detr_case(name, "in.attention_mask");
  const DetrEncoder& e = tiny_encoder();
  for (const std::string& err :
       {error_of([&] { e.forward(features.slice(1, 0, 16), pos, prompt, mask); }),
        error_of([&] { e.forward(features, pos.slice(2, 0, 6), prompt, mask); }),
        error_of([&] { e.forward(features, pos, prompt.slice(2, 0, 8), mask); }),
        error_of([&] { e.forward(features, pos, prompt, mask.slice(1, 0, 5)); }),
        error_of([&] { e.forward(features, pos, prompt, mask.to(at::kFloat)); })}) {
    EXPECT_EQ(err.rfind("SAM 3 DETR encoder: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace segkit::test
