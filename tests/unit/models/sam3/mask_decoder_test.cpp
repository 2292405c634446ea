// SAM 3's mask decoder from the FPN levels, the DETR memory, prompt and queries to pred_masks and
// semantic_seg, against transformers 5.17 on the tiny fixture model (tests/data/sam3/README.md).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/sam3/detr.h"
#include "models/sam3/mask_decoder.h"
#include "sam3_detr_fixtures.h"
#include "sam3_mask_fixtures.h"
#include "segkit/error.h"

namespace segkit::test {
namespace {

using sam3::MaskDecoder;

constexpr double kTolerance = 1e-4;
const std::vector<std::string> kCases = {"img1_text0", "synth_rgba_text0"};

// The sizes straight from config.json (config_test.cpp checks parse_config's reading of them).
MaskDecoder load_tiny(const std::string& prefix, int64_t width = 0) {
  const nlohmann::json c = sam3_tiny_config().at("mask_decoder_config");
  return MaskDecoder::load(sam3_tiny_weights(prefix), prefix, width ? width : c.at("hidden_size").get<int64_t>(),
                           c.at("num_attention_heads").get<int64_t>(), c.at("num_upsampling_stages").get<int64_t>());
}

const MaskDecoder& tiny_decoder() {
  static const MaskDecoder d = load_tiny("");
  return d;
}

struct Inputs {
  at::Tensor queries, memory;
  std::vector<at::Tensor> levels;
  sam3::Prompt prompt;
};

Inputs inputs_of(const std::string& name) {
  Inputs in;
  in.queries = sam3_mask_case(name, "act.detr_decoder.intermediate_hidden_states")[-1];
  in.memory = sam3_mask_case(name, "act.detr_encoder.last_hidden_state");
  in.levels = sam3_fpn_levels(name);
  in.prompt = {sam3_mask_case(name, "act.detr_encoder.text_features"), sam3_mask_case(name, "in.attention_mask")};
  return in;
}

TEST(Sam3MaskDecoder, MatchesTransformers) {
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const Inputs in = inputs_of(name);
    const MaskDecoder& d = tiny_decoder();
    // The hook sees the attention's output, before the residual.
    EXPECT_LE(relative_l2(d.attend_prompt(in.memory, in.prompt) - in.memory,
                          sam3_mask_case(name, "act.mask_decoder.prompt_cross_attn.0")),
              kTolerance);
    EXPECT_LE(relative_l2(d.embed_queries(in.queries), sam3_mask_case(name, "act.mask_decoder.mask_embedder")),
              kTolerance);
    const sam3::MaskDecoderOutput out = d.forward(in.queries, in.levels, in.memory, in.prompt);
    EXPECT_LE(relative_l2(out.pred_masks, sam3_mask_case(name, "out.pred_masks")), kTolerance);
    EXPECT_LE(relative_l2(out.semantic_seg, sam3_mask_case(name, "out.semantic_seg")), kTolerance);
  }
}

TEST(Sam3MaskDecoder, BatchOfTwoImagesMatchesEachAlone) {
  const Inputs a = inputs_of(kCases[0]), b = inputs_of(kCases[1]);
  std::vector<at::Tensor> levels;
  for (size_t i = 0; i < a.levels.size(); ++i) levels.push_back(at::cat({a.levels[i], b.levels[i]}));
  const sam3::Prompt prompt{at::cat({a.prompt.tokens, b.prompt.tokens}), at::cat({a.prompt.mask, b.prompt.mask})};
  const sam3::MaskDecoderOutput out = tiny_decoder().forward(at::cat({a.queries, b.queries}), levels,
                                                             at::cat({a.memory, b.memory}), prompt);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_LE(relative_l2(out.pred_masks[i], sam3_mask_case(kCases[i], "out.pred_masks")[0]), kTolerance);
    EXPECT_LE(relative_l2(out.semantic_seg[i], sam3_mask_case(kCases[i], "out.semantic_seg")[0]), kTolerance);
  }
}

TEST(Sam3MaskDecoder, OneImageWithTheSamePhraseTwiceBroadcasts) {
  // Levels and prompt of batch 1 serve a memory and queries of batch 2 (two phrases, one image).
  const Inputs in = inputs_of(kCases[1]);
  const sam3::MaskDecoderOutput out = tiny_decoder().forward(at::cat({in.queries, in.queries}), in.levels,
                                                             at::cat({in.memory, in.memory}), in.prompt);
  ASSERT_EQ(out.pred_masks.size(0), 2);
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_LE(relative_l2(out.pred_masks[i], sam3_mask_case(kCases[1], "out.pred_masks")[0]), kTolerance);
}

TEST(Sam3MaskDecoder, FromTheDetrOutputs) {
  // img1_text0 from its ×1 FPN level and projected text through the DETR and the mask decoder.
  const std::string name = "img1_text0";
  const sam3::Detr detr =
      sam3::Detr::load(sam3_tiny_weights(), "", sam3::parse_detr_config(sam3_tiny_config(), "config.json"));
  sam3::DetrInputs in;
  in.features = sam3_detr_case(name, "act.vision_encoder.neck.fpn_layers.2");
  in.pos = sam3_detr_case(name, "act.vision_encoder.neck.1.2");
  in.text = sam3_detr_case(name, "act.detr_encoder.text_features");
  in.text_mask = sam3_detr_case(name, "in.attention_mask");
  const sam3::DetrOutput d = detr.forward(in);
  const sam3::MaskDecoderOutput out =
      tiny_decoder().forward(d.queries, sam3_fpn_levels(name), d.encoded.memory, d.prompt);
  EXPECT_LE(relative_l2(out.pred_masks, sam3_mask_case(name, "out.pred_masks")), kTolerance);
  EXPECT_LE(relative_l2(out.semantic_seg, sam3_mask_case(name, "out.semantic_seg")), kTolerance);
}

TEST(Sam3MaskDecoder, PrecomputedSkipTermsGiveTheSameMasks) {
  const MaskDecoder& d = tiny_decoder();
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const Inputs in = inputs_of(name);
    const std::vector<at::Tensor> terms = d.skip_terms(in.levels);
    ASSERT_EQ(terms.size(), 2u);
    EXPECT_EQ(terms[0].sizes(), in.levels[1].sizes());  // coarsest stage first
    EXPECT_EQ(terms[1].sizes(), in.levels[0].sizes());
    const sam3::MaskDecoderOutput split = d.forward(in.queries, in.levels, in.memory, in.prompt, terms);
    const sam3::MaskDecoderOutput whole = d.forward(in.queries, in.levels, in.memory, in.prompt);
    EXPECT_LE(relative_l2(split.pred_masks, sam3_mask_case(name, "out.pred_masks")), kTolerance);
    EXPECT_LE(relative_l2(split.semantic_seg, sam3_mask_case(name, "out.semantic_seg")), kTolerance);
    EXPECT_LE(relative_l2(split.pred_masks, whole.pred_masks), 1e-5);
  }
}

TEST(Sam3MaskDecoder, SkipTermsOfOneImageServeSeveralPhrases) {
  const Inputs in = inputs_of(kCases[0]);
  const MaskDecoder& d = tiny_decoder();
  const sam3::MaskDecoderOutput out = d.forward(at::cat({in.queries, in.queries}), in.levels,
                                                at::cat({in.memory, in.memory}), in.prompt, d.skip_terms(in.levels));
  ASSERT_EQ(out.pred_masks.size(0), 2);
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_LE(relative_l2(out.pred_masks[i], sam3_mask_case(kCases[0], "out.pred_masks")[0]), kTolerance);
}

TEST(Sam3MaskDecoder, SkipTermsAgreeWhereLevelsAreNotTwiceTheCoarserSize) {
  // The fixture's levels are 48, 24 and 12: crop them so that each stage meets an odd source
  // size or a ratio other than 2 (the general nearest-upsampling path) and the odd-sized ×2
  // phase path.
  const Inputs in = inputs_of(kCases[1]);
  const MaskDecoder& d = tiny_decoder();
  auto crop = [](const at::Tensor& t, int64_t h, int64_t w) { return t.slice(2, 0, h).slice(3, 0, w).contiguous(); };
  const std::vector<std::vector<at::Tensor>> cases = {
      {crop(in.levels[0], 45, 47), crop(in.levels[1], 23, 22), in.levels[2]},  // neither stage ×2
      {crop(in.levels[0], 46, 44), crop(in.levels[1], 23, 22), in.levels[2]},  // ×2 from an odd height
      {crop(in.levels[0], 36, 36), crop(in.levels[1], 18, 18), in.levels[2]}};  // ×1.5, then ×2
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const sam3::MaskDecoderOutput split =
        d.forward(in.queries, cases[i], in.memory, in.prompt, d.skip_terms(cases[i]));
    const sam3::MaskDecoderOutput whole = d.forward(in.queries, cases[i], in.memory, in.prompt);
    EXPECT_EQ(split.pred_masks.sizes(), whole.pred_masks.sizes());
    EXPECT_LE(relative_l2(split.pred_masks, whole.pred_masks), 1e-5);
    EXPECT_LE(relative_l2(split.semantic_seg, whole.semantic_seg), 1e-5);
  }
}

TEST(Sam3MaskDecoder, SkipTermsInBfloat16StayCloseToFloat32) {
  MaskDecoder b16 = load_tiny("");
  b16.use_bfloat16();
  const Inputs in = inputs_of(kCases[0]);
  const at::Tensor expected = sam3_mask_case(kCases[0], "out.pred_masks");
  const std::vector<at::Tensor> terms = b16.skip_terms(in.levels);
  const at::Tensor split = b16.forward(in.queries, in.levels, in.memory, in.prompt, terms).pred_masks;
  const at::Tensor whole = b16.forward(in.queries, in.levels, in.memory, in.prompt).pred_masks;
  EXPECT_LE(relative_l2(split, expected), 3e-2);
  EXPECT_LE(relative_l2(whole, expected), 3e-2);
  EXPECT_GT(relative_l2(split, expected), 1e-6);  // the convolutions did run in bfloat16
  // Kept as the convolutions give them (half the memory of float32), read exactly as float32.
  std::vector<at::Tensor> widened;
  for (const at::Tensor& t : terms) {
    EXPECT_EQ(t.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(t.is_contiguous(at::MemoryFormat::ChannelsLast));
    widened.push_back(t.to(at::kFloat));
  }
  EXPECT_TRUE(at::equal(b16.forward(in.queries, in.levels, in.memory, in.prompt, widened).pred_masks, split));
}

TEST(Sam3MaskDecoder, SkipTermsOfAnotherSizeAreOneLineErrors) {
  const Inputs in = inputs_of(kCases[1]);
  const MaskDecoder& d = tiny_decoder();
  const std::vector<at::Tensor> terms = d.skip_terms(in.levels);
  const std::string few = error_of([&] { d.forward(in.queries, in.levels, in.memory, in.prompt, {terms[0]}); });
  EXPECT_NE(few.find("1 skip terms for 2 stages"), std::string::npos) << few;
  const std::string shape =
      error_of([&] { d.forward(in.queries, in.levels, in.memory, in.prompt, {terms[1], terms[0]}); });
  EXPECT_NE(shape.find("skip term 0 must be of its level's size"), std::string::npos) << shape;
  EXPECT_EQ(shape.find('\n'), std::string::npos);
}

TEST(Sam3MaskDecoder, LoadsUnderTheVideoCheckpointPrefix) {
  const MaskDecoder d = load_tiny("detector_model.");
  const Inputs in = inputs_of(kCases[1]);
  EXPECT_LE(relative_l2(d.forward(in.queries, in.levels, in.memory, in.prompt).pred_masks,
                        sam3_mask_case(kCases[1], "out.pred_masks")),
            kTolerance);
}

TEST(Sam3MaskDecoder, WrongSizedWeightsFailAtLoad) {
  EXPECT_THROW(load_tiny("", 64), Error);
  EXPECT_THROW(MaskDecoder::load(sam3_tiny_weights(), "detector_model.", 32, 4, 3), Error);  // wrong prefix
  EXPECT_THROW(MaskDecoder::load(sam3_tiny_weights(), "", 32, 4, 4), Error);  // no conv_layers.3
  EXPECT_THROW(MaskDecoder::load(sam3_tiny_weights(), "", 32, 3, 3), Error);  // heads do not divide the width
}

TEST(Sam3MaskDecoder, BadInputShapesAreOneLineErrors) {
  const Inputs in = inputs_of(kCases[1]);
  const MaskDecoder& d = tiny_decoder();
  auto expect_error = [&](const at::Tensor& q, const std::vector<at::Tensor>& levels, const at::Tensor& mem,
                          const sam3::Prompt& p, const std::string& words) {
    try {
      d.forward(q, levels, mem, p);
      ADD_FAILURE() << "no error for " << words;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(words), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  expect_error(in.queries, {in.levels[2]}, in.memory, in.prompt, "at least two FPN levels");
  expect_error(in.queries.slice(2, 0, 16), in.levels, in.memory, in.prompt, "the queries must be");
  expect_error(in.queries, in.levels, in.memory.slice(1, 0, 100), in.prompt, "fewer than the 12 × 12 grid");
  expect_error(in.queries, {in.levels[0].slice(1, 0, 16), in.levels[1], in.levels[2]}, in.memory, in.prompt,
               "each FPN level must be");
  expect_error(in.queries, in.levels, in.memory, {in.prompt.tokens, in.prompt.mask.slice(1, 0, 8)}, "prompt mask");
  expect_error(in.queries, in.levels, in.memory, {in.prompt.tokens.slice(2, 0, 8), in.prompt.mask},
               "the prompt must be");
  expect_error(in.queries, in.levels, at::cat({in.memory, in.memory, in.memory}),
               {at::cat({in.prompt.tokens, in.prompt.tokens}), in.prompt.mask}, "the prompt must be 3 (or 1)");
  expect_error(in.queries, {at::upsample_nearest2d(in.levels[0], {96, 96}), in.levels[0], in.levels[1], in.levels[2],
                            in.levels[2]},
               in.memory, in.prompt, "upsampling stages");
}

TEST(Sam3MaskDecoder, WithoutPromptSkipsTheCrossAttention) {
  const Inputs in = inputs_of(kCases[1]);
  const at::Tensor mem = tiny_decoder().attend_prompt(in.memory, sam3::Prompt{});
  EXPECT_TRUE(at::equal(mem, in.memory));
}

}  // namespace
}  // namespace segkit::test
