// models/mask2former/pixel_decoder against transformers 5.17 on the tiny random-weight model:
// the backbone features of the fixture go in, the pixel decoder's outputs and hooked steps
// (input projections, the first encoder layer and its attention) must agree to 1e-4.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <sstream>
#include <string>
#include <vector>

#include "mask2former_fixtures.h"
#include "models/mask2former/pixel_decoder.h"
#include "segkit/error.h"
#include "test_util.h"

using namespace segkit;
using mask2former::PixelDecoder;
using mask2former::PixelDecoderConfig;

namespace {

const std::string kPrefix = "model.pixel_level_module.decoder.";

PixelDecoderConfig tiny_config() { return {32, 32, 2, 64, 4, {32, 64, 128, 256}}; }

std::vector<at::Tensor> backbone_features(const SafetensorsFile& f) {
  std::vector<at::Tensor> features;
  for (int i = 0; i < 4; ++i) features.push_back(test::case_tensor(f, "out.encoder_hidden_states." + std::to_string(i)));
  return features;
}

// Relative L2 below 1e-4, recorded in the test report.
void expect_close(const at::Tensor& got, const SafetensorsFile& f, const std::string& name) {
  const at::Tensor want = test::case_tensor(f, name);
  ASSERT_EQ(got.sizes(), want.sizes()) << name;
  const double error = test::relative_l2(got, want);
  std::ostringstream text;  // RecordProperty's numeric overload takes int
  text << error;
  ::testing::Test::RecordProperty(name, text.str());
  EXPECT_LE(error, 1e-4) << name;
}

void expect_outputs_match(const std::string& case_name) {
  const auto f = test::mask2former_case(case_name);
  const PixelDecoder decoder = PixelDecoder::load(test::mask2former_tiny_weights(), kPrefix, tiny_config());
  const mask2former::PixelDecoderOutput out = decoder(backbone_features(*f));
  ASSERT_EQ(out.multi_scale.size(), 3u);
  for (int l = 0; l < 3; ++l)
    expect_close(out.multi_scale[l], *f, "out.pixel_decoder_hidden_states." + std::to_string(l));
  expect_close(out.mask_features, *f, "out.pixel_decoder_last_hidden_state");
}

}  // namespace

TEST(Mask2FormerPixelDecoder, MatchesTransformersOnTheHubInput) { expect_outputs_match("img0_hub"); }

TEST(Mask2FormerPixelDecoder, MatchesTransformersOnANonSquareInput) { expect_outputs_match("img0_shortest_edge"); }

TEST(Mask2FormerPixelDecoder, StepsMatchTransformersHooks) {
  const auto f = test::mask2former_case("img0_hub");
  const PixelDecoder decoder = PixelDecoder::load(test::mask2former_tiny_weights(), kPrefix, tiny_config());
  const PixelDecoder::EncoderInput in = decoder.encoder_input(backbone_features(*f));
  for (int l = 0; l < 3; ++l)
    expect_close(in.projections[l], *f, "hook." + kPrefix + "input_projections." + std::to_string(l));
  const std::string layer0 = "hook." + kPrefix + "encoder.layers.0.";
  const auto& layer = decoder.encoder_layers().at(0);
  const mask2former::DeformableAttentionOutput attention =
      layer.self_attention()(in.states + in.position, in.states, in.reference_points, in.levels);
  expect_close(attention.output, *f, layer0 + "self_attn.0");
  expect_close(attention.attention_weights, *f, layer0 + "self_attn.1");
  expect_close(layer(in.states, in.position, in.reference_points, in.levels), *f, layer0 + "0");
}

TEST(Mask2FormerPixelDecoder, BatchItemsAreIndependent) {
  // The same image twice, the second one flipped: each batch item equals its own single run.
  const auto f = test::mask2former_case("img0_hub");
  const PixelDecoder decoder = PixelDecoder::load(test::mask2former_tiny_weights(), kPrefix, tiny_config());
  const std::vector<at::Tensor> single = backbone_features(*f);
  std::vector<at::Tensor> flipped, batch;
  for (const at::Tensor& x : single) {
    flipped.push_back(x.flip({3}).contiguous());
    batch.push_back(at::cat({x, flipped.back()}, 0));
  }
  const auto both = decoder(batch);
  const auto first = decoder(single), second = decoder(flipped);
  EXPECT_LE(test::relative_l2(both.mask_features[0], first.mask_features[0]), 1e-6);
  EXPECT_LE(test::relative_l2(both.mask_features[1], second.mask_features[0]), 1e-6);
  for (int l = 0; l < 3; ++l) {
    EXPECT_LE(test::relative_l2(both.multi_scale[l][0], first.multi_scale[l][0]), 1e-6);
    EXPECT_LE(test::relative_l2(both.multi_scale[l][1], second.multi_scale[l][0]), 1e-6);
  }
}

TEST(Mask2FormerPixelDecoder, MisShapedWeightIsNamed) {
  nn::WeightMap w = test::mask2former_tiny_weights();
  const std::string name = kPrefix + "encoder.layers.1.fc1.weight";
  w.insert(name, at::zeros({48, 32}));
  const std::string error = test::error_of([&] { PixelDecoder::load(w, kPrefix, tiny_config()); });
  EXPECT_NE(error.find("'" + name + "' has shape [48, 32], expected [64, 32]"), std::string::npos) << error;
  // A configuration that does not fit the checkpoint names the first tensor that disagrees (the
  // 1/16 stage feeds encoder level 1).
  PixelDecoderConfig wrong = tiny_config();
  wrong.in_channels = {32, 64, 96, 256};
  const std::string channels = test::error_of(
      [&] { PixelDecoder::load(test::mask2former_tiny_weights(), kPrefix, wrong); });
  EXPECT_NE(channels.find("input_projections.1.0.weight"), std::string::npos) << channels;
}

TEST(Mask2FormerPixelDecoder, RejectsFeaturesThatDoNotFit) {
  const PixelDecoder decoder = PixelDecoder::load(test::mask2former_tiny_weights(), kPrefix, tiny_config());
  const std::vector<at::Tensor> three{at::zeros({1, 32, 8, 8}), at::zeros({1, 64, 4, 4}), at::zeros({1, 128, 2, 2})};
  EXPECT_NE(test::error_of([&] { decoder(three); }).find("expects 4 feature maps"), std::string::npos);
  std::vector<at::Tensor> four = three;
  four.push_back(at::zeros({1, 200, 1, 1}));
  EXPECT_NE(test::error_of([&] { decoder(four); }).find("feature map 3"), std::string::npos);
}
