// Random-weight checkpoints for benchmarks: they must load as the architecture they claim.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/sam/random_checkpoint.h"
#include "sam_fixtures.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/sam.h"

using namespace segkit;

TEST(SamRandomCheckpoint, LoadsBackWithTheConfigItWasWrittenFor) {
  SamConfig c;  // a small model with every part SAM has
  c.image_size = 128;
  c.encoder_dim = 32;
  c.encoder_depth = 3;
  c.encoder_heads = 2;
  c.window_size = 3;
  c.global_attn_indexes = {1};
  c.out_chans = 32;
  c.decoder_mlp_dim = 48;
  c.iou_head_hidden_dim = 24;
  c.decoder_heads = 4;
  test::TempDir dir;
  sam::write_random_checkpoint(dir.file("m"), c, 7);
  for (const char* f : {"config.json", "model.safetensors", "preprocessor_config.json"})
    EXPECT_TRUE(std::filesystem::exists(dir.file("m/") + f)) << f;
  auto model = SamModel::load(dir.file("m"));
  const SamConfig& got = model->config();
  EXPECT_EQ(got.image_size, 128);
  EXPECT_EQ(got.encoder_dim, 32);
  EXPECT_EQ(got.encoder_depth, 3);
  EXPECT_EQ(got.encoder_heads, 2);
  EXPECT_EQ(got.window_size, 3);
  EXPECT_EQ(got.global_attn_indexes, std::vector<int>{1});
  EXPECT_EQ(got.decoder_heads, 4);
  EXPECT_EQ(got.decoder_mlp_dim, 48);
  EXPECT_EQ(got.iou_head_hidden_dim, 24);
  EXPECT_EQ(got.pixel_mean, c.pixel_mean);

  SamPredictor p(model);
  Image image;
  image.width = 100;
  image.height = 60;
  image.rgb.assign(100 * 60 * 3, 128);
  p.set_image(image);
  SamPrompt prompt;
  prompt.points = {{50.f, 30.f}};
  prompt.labels = {1};
  SamPrediction r = p.predict(prompt);
  EXPECT_EQ(r.num_masks, 3);
  EXPECT_EQ(r.height, 60);

  // Same seed, same bytes; another seed, other weights.
  sam::write_random_checkpoint(dir.file("again"), c, 7);
  sam::write_random_checkpoint(dir.file("other"), c, 8);
  EXPECT_EQ(read_text_file(dir.file("m/model.safetensors")), read_text_file(dir.file("again/model.safetensors")));
  EXPECT_NE(read_text_file(dir.file("m/model.safetensors")), read_text_file(dir.file("other/model.safetensors")));
}

TEST(SamRandomCheckpoint, StandardVariantsHaveUpstreamShapes) {
  EXPECT_EQ(sam::standard_config("vit_b").encoder_dim, 768);
  EXPECT_EQ(sam::standard_config("vit_l").encoder_depth, 24);
  EXPECT_EQ(sam::standard_config("vit_h").global_attn_indexes, (std::vector<int>{7, 15, 23, 31}));
  EXPECT_THROW(sam::standard_config("vit_x"), Error);
}
