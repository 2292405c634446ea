// Architectures beyond the fixture's: the loader reads every size from tensor shapes, so a
// pruned encoder (SlimSAM-style: narrower attention and MLP in some blocks) loads and runs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "sam_fixtures.h"
#include "segkit/error.h"
#include "segkit/sam.h"

using namespace segkit;

TEST(SamArchitecture, PrunedBlocksAreReadFromShapes) {
  auto f = SafetensorsFile::open(test::sam_tiny_hf() + "/model.safetensors");
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.05f);
  auto random = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    return v;
  };
  // Block 1 keeps 2 of its 3 heads (attention width 32) and half of its MLP (96).
  const std::string b = "vision_encoder.layers.1.";
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> replaced = {
      {b + "attn.qkv.weight", {{96, 48}, random(96 * 48)}},
      {b + "attn.qkv.bias", {{96}, random(96)}},
      {b + "attn.proj.weight", {{48, 32}, random(48 * 32)}},
      {b + "mlp.lin1.weight", {{96, 48}, random(96 * 48)}},
      {b + "mlp.lin1.bias", {{96}, random(96)}},
      {b + "mlp.lin2.weight", {{48, 96}, random(48 * 96)}},
  };
  std::vector<TensorRef> refs;
  for (const auto& name : f->names()) {
    auto it = replaced.find(name);
    if (it != replaced.end()) refs.push_back({name, DType::F32, it->second.first, it->second.second.data()});
    else refs.push_back({name, f->get(name).dtype, f->get(name).shape, f->get(name).data});
  }
  test::TempDir dir;
  write_safetensors(dir.file("pruned.safetensors"), refs);

  auto model = SamModel::load(dir.file("pruned.safetensors"), segkit::test::quiet_load_options());
  EXPECT_EQ(model->config().encoder_dim, 48);
  EXPECT_EQ(model->config().window_size, 14);
  EXPECT_EQ(model->config().global_attn_indexes, std::vector<int>{1});
  SamPredictor predictor(model);
  predictor.set_image(test::sam_case_image(*test::sam_case_file("groceries_tall")));
  SamPrompt prompt;
  prompt.points = {{40.f, 50.f}};
  prompt.labels = {1};
  SamPrediction p = predictor.predict(prompt);
  ASSERT_EQ(p.num_masks, 3);
  for (float s : p.iou_predictions) EXPECT_TRUE(std::isfinite(s));
  EXPECT_EQ(p.height, 210);
  EXPECT_EQ(p.width, 150);
}

TEST(SamArchitecture, ShapesThatFitNoArchitectureAreNamed) {
  auto f = SafetensorsFile::open(test::sam_tiny_hf() + "/model.safetensors");
  std::vector<float> odd(7 * 16, 0.f);
  std::vector<TensorRef> refs;
  for (const auto& name : f->names()) {
    if (name == "vision_encoder.layers.0.attn.rel_pos_h") refs.push_back({name, DType::F32, {7, 16}, odd.data()});
    else refs.push_back({name, f->get(name).dtype, f->get(name).shape, f->get(name).data});
  }
  test::TempDir dir;
  write_safetensors(dir.file("odd.safetensors"), refs);
  try {
    SamModel::load(dir.file("odd.safetensors"), segkit::test::quiet_load_options());
    FAIL() << "loaded a model whose relative-position tables disagree";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rel_pos"), std::string::npos) << e.what();
  }
}
