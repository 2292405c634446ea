// dev-random-mask2former's checkpoints: every tensor the model loads at its shape (the full-size
// Swin-T config loads), values that keep the forward pass O(1), the same bytes for the same seed.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "mask2former_fixtures.h"
#include "models/mask2former/random_checkpoint.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/mask2former.h"

using namespace segkit;

TEST(Mask2FormerRandomCheckpoint, TinyConfigLoadsAndGivesO1Outputs) {
  test::TempDir dir;
  mask2former::write_random_checkpoint(dir.file("m"), test::data_path("mask2former/model/config.json"), 3);
  auto model = Mask2FormerModel::load(dir.file("m"));
  EXPECT_EQ(model->config().num_queries, 12) << "the tiny fixture config";
  const Mask2FormerOutput out = model->forward(model->preprocess(load_image(test::data_path("mask2former/inputs/img0.png"))));
  const at::Tensor masks = at::from_blob(const_cast<float*>(out.mask_logits.data.data()),
                                         {static_cast<int64_t>(out.mask_logits.data.size())}, at::kFloat);
  EXPECT_TRUE(masks.isfinite().all().item<bool>());
  const double spread = masks.std().item<double>();
  EXPECT_GT(spread, 0.1);  // not the near-constant output of zero biases and tiny weights
  EXPECT_LT(spread, 1e3);

  mask2former::write_random_checkpoint(dir.file("again"), test::data_path("mask2former/model/config.json"), 3);
  EXPECT_EQ(read_text_file(dir.file("m/model.safetensors")), read_text_file(dir.file("again/model.safetensors")));
}

TEST(Mask2FormerRandomCheckpoint, FullSizeSwinTinyLoads) {
  test::TempDir dir;
  const std::string config = test::data_path("mask2former/swin_tiny_coco_panoptic/config.json");
  mask2former::write_random_checkpoint(dir.file("m"), config);
  auto model = Mask2FormerModel::load(dir.file("m"));
  EXPECT_EQ(model->info().parameter_count, 47435264);  // transformers' Swin-T COCO panoptic, 100 queries
  EXPECT_EQ(model->processor().height, 384);           // the preprocessor_config.json beside the config
}

TEST(Mask2FormerRandomCheckpoint, BadConfigIsOneLineNamingTheFile) {
  test::TempDir dir;
  try {
    mask2former::write_random_checkpoint(dir.file("m"), test::data_path("mask2former/README.md"));
    FAIL();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(test::data_path("mask2former/README.md") + ": ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}
