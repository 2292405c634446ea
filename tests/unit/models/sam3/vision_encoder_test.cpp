// The ViT backbone, the FPN neck and its position encodings against transformers 5.17's
// activations on the tiny random-weight SAM 3 (tests/data/sam3), and bad weights.
#include <gtest/gtest.h>

#include "kernels/aten_path.h"
#include "models/sam3/checkpoint.h"
#include "models/sam3/rope.h"
#include "models/sam3/vision_encoder.h"
#include "sam3_vision_fixtures.h"

namespace segkit::test {
namespace {

const sam3::VisionEncoder& tiny_encoder() {
  static const sam3::VisionEncoder e = sam3::VisionEncoder::load(sam3_tiny_weights(), sam3_tiny_config());
  return e;
}

// The same with every attention through the products and softmax (where the CPU has the fused
// kernel, tiny_encoder runs that: both must match).
const sam3::VisionEncoder& tiny_encoder_unfused() {
  static const sam3::VisionEncoder e = [] {
    sam3::VisionEncoder u = sam3::VisionEncoder::load(sam3_tiny_weights(), sam3_tiny_config());
    for (sam3::ViTLayer& l : u.backbone.layers) l.allow_fused = false;
    return u;
  }();
  return e;
}

const std::string kAct = "act.vision_encoder.";

class Sam3Vision : public ::testing::TestWithParam<const char*> {};

TEST_P(Sam3Vision, EveryLayerMatchesTransformers) {
  auto f = sam3_case(GetParam());
  for (const sam3::VisionEncoder* encoder : {&tiny_encoder(), &tiny_encoder_unfused()}) {
    SCOPED_TRACE(encoder == &tiny_encoder() ? "fused where the CPU has it" : "products");
    const sam3::VisionEncoder& e = *encoder;
    const at::Tensor pixels = case_tensor(*f, "in.pixel_values");
    const at::Tensor embedded = e.backbone.embed(pixels);
    EXPECT_LE(relative_l2(embedded.flatten(1, 2), case_tensor(*f, kAct + "backbone.embeddings")), 1e-5);
    EXPECT_LE(relative_l2(e.backbone.ln_pre(embedded), case_tensor(*f, kAct + "backbone.layer_norm")), 1e-5);

    const sam3::VisionFeatures out = e(pixels, /*all_levels=*/true, /*keep_layers=*/true);
    ASSERT_EQ(out.vit_layers.size(), 4u);
    for (int i = 0; i < 4; ++i) {
      const std::string name = kAct + "backbone.layers." + std::to_string(i);
      EXPECT_LE(relative_l2(out.vit_layers[i], case_tensor(*f, name)), 1e-4) << name;
    }
    EXPECT_EQ(out.last_hidden_state.sizes(), (at::IntArrayRef{1, 144, 64}));
    ASSERT_EQ(out.fpn.size(), 4u);
    for (int i = 0; i < 4; ++i) {
      const std::string name = kAct + "neck.fpn_layers." + std::to_string(i);
      EXPECT_LE(relative_l2(out.fpn[i], case_tensor(*f, name)), 1e-4) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Sam3Vision, ::testing::Values("synth_rgba_text0", "img1_text0"));

TEST(Sam3Vision, PositionEncodingsMatchTransformers) {
  auto f = sam3_case("synth_rgba_text0");
  const sam3::VisionFeatures out = tiny_encoder()(case_tensor(*f, "in.pixel_values"), true);
  ASSERT_EQ(out.fpn_position.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const at::Tensor expected = case_tensor(*f, kAct + "neck.1." + std::to_string(i));
    EXPECT_EQ(out.fpn_position[i].sizes(), out.fpn[i].sizes());
    EXPECT_LE(relative_l2(out.fpn_position[i], expected), 1e-6) << i;
    EXPECT_LE((out.fpn_position[i] - expected).abs().max().item<float>(), 1e-5) << i;
  }
}

TEST(Sam3Vision, Sam3ModelDropsTheHalfScaleLevel) {
  auto f = sam3_case("img1_text0");
  const sam3::VisionFeatures out = tiny_encoder()(case_tensor(*f, "in.pixel_values"));
  ASSERT_EQ(out.fpn.size(), 3u);
  ASSERT_EQ(out.fpn_position.size(), 3u);
  EXPECT_TRUE(out.vit_layers.empty());
  EXPECT_EQ(out.fpn[2].sizes(), (at::IntArrayRef{1, 32, 12, 12}));
  EXPECT_LE(relative_l2(out.fpn[0], case_tensor(*f, kAct + "neck.fpn_layers.0")), 1e-4);
}

TEST(Sam3Vision, ABatchIsEachImageAlone) {
  auto a = sam3_case("synth_rgba_text0");
  auto b = sam3_case("img1_text0");
  const at::Tensor pixels = at::cat({case_tensor(*b, "in.pixel_values"), case_tensor(*a, "in.pixel_values")});
  const sam3::VisionFeatures out = tiny_encoder()(pixels, true);
  for (int i = 0; i < 4; ++i) {
    const std::string name = kAct + "neck.fpn_layers." + std::to_string(i);
    EXPECT_LE(relative_l2(out.fpn[i][0], case_tensor(*b, name)[0]), 1e-4) << name;
    EXPECT_LE(relative_l2(out.fpn[i][1], case_tensor(*a, name)[0]), 1e-4) << name;
    EXPECT_EQ(out.fpn_position[i].size(0), 2);
  }
}

TEST(Sam3Vision, RopeTablesAreTransformers) {
  // Windowed layer (side 4, scale 1) and global layer (side 12, scale 1/3) of the tiny model:
  // token t = 5 sits at column 1, row 1 of the window; head_dim 16 → frequencies 10⁴^(−k/4).
  const sam3::AxialRope w = sam3::AxialRope::make(4, 1.0, 16, 1e4);
  EXPECT_NEAR(w.cos[5][0].item<float>(), std::cos(1.0), 1e-6);  // x · f0, pair 0
  EXPECT_NEAR(w.sin[5][3].item<float>(), std::sin(0.1), 1e-6);  // x · f1, pair 1
  EXPECT_NEAR(w.cos[6][8].item<float>(), std::cos(1.0), 1e-6);  // y = 1 · f0
  const sam3::AxialRope g = sam3::AxialRope::make(12, 4.0 / 12.0, 16, 1e4);
  EXPECT_NEAR(g.sin[13][0].item<float>(), std::sin(1.0 / 3.0), 1e-6);  // x = 1/3
  EXPECT_NEAR(g.sin[13][9].item<float>(), std::sin(1.0 / 3.0), 1e-6);  // y = 1/3
}

TEST(Sam3Vision, RopeOnTheAtenPathRotatesAsTheLoop) {
  // The loop (CPU tensors) and ATen's operators (other devices, here forced) on strided views
  // as the layers pass them: tokens of a window, and a 6 × 10 grid of 4 × 4 windows.
  const sam3::AxialRope rope = sam3::AxialRope::make(4, 1.0, 16, 1e4);
  const at::Tensor tokens = at::randn({2, 16, 3, 2, 16}).select(2, 1);  // B × N × heads × d
  const at::Tensor grid = at::randn({1, 8, 12, 3, 2, 16}).select(3, 0);  // B × H × W × heads × d
  at::Tensor loop_tokens = tokens.clone(), loop_grid = grid.clone();
  rope.apply_(loop_tokens);
  rope.apply_grid_(loop_grid);
  const kernels::ForceAtenPath aten;
  at::Tensor aten_tokens = tokens.clone(), aten_grid = grid.clone();
  rope.apply_(aten_tokens);
  rope.apply_grid_(aten_grid);
  EXPECT_TRUE(aten_tokens.allclose(loop_tokens, 0, 1e-6));
  EXPECT_TRUE(aten_grid.allclose(loop_grid, 0, 1e-6));
  EXPECT_FALSE(aten_grid.allclose(grid, 0, 1e-3));  // rotated at all
}

TEST(Sam3Vision, WrongInputIsAnError) {
  const at::Tensor small = at::zeros({1, 3, 112, 112});
  EXPECT_EQ(error_of([&] { tiny_encoder()(small); }),
            "sam3 vision encoder: pixel values are [1, 3, 112, 112] Float, expected float32 [B, 3, 168, 168]");
  EXPECT_NE(error_of([&] { tiny_encoder()(at::zeros({1, 3, 168, 168}, at::kDouble)); }).find("expected float32"),
            std::string::npos);
}

TEST(Sam3Vision, BadWeightsGiveOneLineErrors) {
  const sam3::Sam3Config config = sam3_tiny_config();
  {
    nn::WeightMap w = sam3_tiny_weights();
    w.insert("vision_encoder.backbone.layers.2.mlp.fc1.weight", at::zeros({100, 64}));
    const std::string e = error_of([&] { sam3::VisionEncoder::load(w, config); });
    EXPECT_NE(e.find("vision_encoder.backbone.layers.2.mlp.fc1.weight"), std::string::npos) << e;
    EXPECT_NE(e.find("[128, 64]"), std::string::npos) << e;
  }
  {
    const nn::WeightMap all = sam3_tiny_weights();
    nn::WeightMap w("tiny sam3");
    for (const auto& [name, t] : all.all())
      if (name != "vision_encoder.neck.fpn_layers.0.scale_layers.2.weight") w.insert(name, t);
    const std::string e = error_of([&] { sam3::VisionEncoder::load(w, config); });
    EXPECT_NE(e.find("vision_encoder.neck.fpn_layers.0.scale_layers.2.weight"), std::string::npos) << e;
  }
}

// A checkpoint as facebook/sam3 stores it: every detector tensor under "detector_model.", plus
// tracker tensors the image model ignores.
TEST(Sam3Checkpoint, ReadsPlainAndPrefixedFiles) {
  const sam3::Sam3Config config = sam3_tiny_config();
  const sam3::LoadedWeights plain = sam3::read_weights(sam3_tiny() + "/model.safetensors", config);
  EXPECT_TRUE(plain.weights.contains("vision_encoder.backbone.layer_norm.weight"));

  TempDir dir;
  std::vector<TensorRef> refs;
  std::vector<at::Tensor> keep;
  for (const auto& [name, t] : plain.weights.all()) {
    keep.push_back(t.contiguous());
    refs.push_back({"detector_model." + name, DType::F32, t.sizes().vec(), keep.back().data_ptr()});
  }
  const at::Tensor tracker = at::ones({3});
  refs.push_back({"tracker_model.some.weight", DType::F32, {3}, tracker.data_ptr()});
  write_safetensors(dir.file("model.safetensors"), refs);
  sam3::Sam3Config video = config;
  video.weight_prefix = "detector_model.";
  const sam3::LoadedWeights prefixed = sam3::read_weights(dir.file("model.safetensors"), video);
  EXPECT_TRUE(prefixed.weights.contains("vision_encoder.backbone.layer_norm.weight"));
  EXPECT_FALSE(prefixed.weights.contains("tracker_model.some.weight"));
  EXPECT_EQ(prefixed.weights.all().size(), plain.weights.all().size());
  const sam3::VisionEncoder e = sam3::VisionEncoder::load(prefixed.weights, video);
  auto f = sam3_case("img1_text0");
  EXPECT_LE(relative_l2(e(case_tensor(*f, "in.pixel_values")).fpn[1], case_tensor(*f, kAct + "neck.fpn_layers.1")), 1e-4);
}

TEST(Sam3Checkpoint, OtherFilesGiveOneLineErrors) {
  const sam3::Sam3Config config = sam3_tiny_config();
  TempDir dir;
  const at::Tensor t = at::zeros({4});
  write_safetensors(dir.file("other.safetensors"), {{"encoder.weight", DType::F32, {4}, t.data_ptr()}});
  EXPECT_EQ(error_of([&] { sam3::read_weights(dir.file("other.safetensors"), config); }),
            dir.file("other.safetensors") +
                ": no 'vision_encoder.*' tensors (not a SAM 3 checkpoint in transformers' layout)");
  sam3::Sam3Config bigger = config;
  bigger.vision.backbone.intermediate_size = 256;
  const std::string e = error_of([&] { sam3::read_weights(sam3_tiny() + "/model.safetensors", bigger); });
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("mlp.fc1"), std::string::npos) << e;
}

}  // namespace
}  // namespace segkit::test
