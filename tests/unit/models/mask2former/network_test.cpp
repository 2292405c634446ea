// The backbone, the transformer decoder and preprocessing against transformers 5.17's values on
// the tiny random-weight model (tests/data/mask2former).
#include <gtest/gtest.h>

#include "mask2former_fixtures.h"
#include "core/json_read.h"
#include "models/mask2former/config.h"
#include "models/mask2former/preprocess.h"
#include "models/mask2former/swin.h"
#include "models/mask2former/transformer_decoder.h"
#include "segkit/image.h"

namespace segkit::test {
namespace {

using namespace segkit::mask2former;

Mask2FormerConfig tiny_config() {
  const std::string path = data_path("mask2former/model/config.json");
  return parse_config(read_json_file(path, JsonLimits::config()), path);
}

Mask2FormerProcessorConfig processor(const std::string& folder) {
  const std::string path = data_path("mask2former/" + folder + "/preprocessor_config.json");
  return parse_processor_config(read_json_file(path, JsonLimits::config()), path);
}

class Mask2FormerNetwork : public ::testing::TestWithParam<const char*> {};

TEST_P(Mask2FormerNetwork, PreprocessingMatchesTheImageProcessor) {
  auto f = mask2former_case(GetParam());
  const Image image = load_image(data_path("mask2former/inputs/img0.png"));
  const auto p = processor(std::string(GetParam()) == "img0_hub" ? "model" : "processor_shortest_edge");
  const at::Tensor x = preprocess_image(image, p);
  const at::Tensor expected = case_tensor(*f, "inputs.pixel_values");
  ASSERT_EQ(x.sizes(), expected.sizes());
  EXPECT_LE(relative_l2(x, expected), 1e-4);
  // The uint8 resize is torch's to the bit: what remains is float rounding.
  EXPECT_LE((x - expected).abs().max().item<float>(), 1e-5);
}

TEST_P(Mask2FormerNetwork, BackboneMatchesTransformers) {
  auto f = mask2former_case(GetParam());
  const SwinBackbone swin = SwinBackbone::load(mask2former_tiny_weights(), "model.pixel_level_module.encoder.", tiny_config());
  const std::vector<at::Tensor> features = swin(case_tensor(*f, "inputs.pixel_values"));
  ASSERT_EQ(features.size(), 4u);
  for (int s = 0; s < 4; ++s) {
    const std::string name = "out.encoder_hidden_states." + std::to_string(s);
    if (!f->contains(name)) continue;
    EXPECT_LE(relative_l2(features[s], case_tensor(*f, name)), 1e-4) << name;
  }
}

TEST_P(Mask2FormerNetwork, TransformerDecoderMatchesTransformers) {
  auto f = mask2former_case(GetParam());
  if (!f->contains("out.pixel_decoder_hidden_states.1")) GTEST_SKIP() << "case without pixel-decoder states";
  const TransformerDecoder decoder = TransformerDecoder::load(mask2former_tiny_weights(), tiny_config());
  std::vector<at::Tensor> levels;
  for (int l = 0; l < 3; ++l) levels.push_back(case_tensor(*f, "out.pixel_decoder_hidden_states." + std::to_string(l)));
  const DecoderOutput out = decoder(levels, case_tensor(*f, "out.pixel_decoder_last_hidden_state"), true);
  ASSERT_EQ(out.predictions.size(), 5u);
  EXPECT_LE(relative_l2(out.predictions.back().class_logits, case_tensor(*f, "out.class_queries_logits")), 1e-4);
  EXPECT_LE(relative_l2(out.predictions.back().mask_logits, case_tensor(*f, "out.masks_queries_logits")), 1e-4);
  for (int i = 0; i < 4; ++i) {
    const std::string p = "out.auxiliary_logits." + std::to_string(i) + ".class_queries_logits";
    if (!f->contains(p)) continue;
    EXPECT_LE(relative_l2(out.predictions[i].class_logits, case_tensor(*f, p)), 1e-4) << p;
  }
  for (int i = 0; i < 5; ++i) {
    const std::string p = "out.transformer_decoder_hidden_states." + std::to_string(i);
    if (!f->contains(p)) continue;
    EXPECT_LE(relative_l2(out.hidden_states[i], case_tensor(*f, p).transpose(0, 1)), 1e-4) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Mask2FormerNetwork, ::testing::Values("img0_hub", "img0_shortest_edge"));

}  // namespace
}  // namespace segkit::test
