// The decoder on batches of prompts, as the automatic mask generator uses it: a batch decodes
// as each prompt alone, and with the IoU-gated upscaling prompts with an IoU prediction above
// the threshold get exactly the masks of the ungated decoder, the others NaN, and the IoU
// predictions are unchanged.
#include <ATen/ops/median.h>
#include <ATen/ops/rand.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>

#include "models/sam/predictor_torch.h"
#include "sam_fixtures.h"
#include "segkit/sam.h"

using namespace segkit;

TEST(MaskDecoder, UpscalesOnlyPromptsWithAnIouPredictionAboveTheFilter) {
  auto model = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  SamPredictor predictor(model);
  predictor.set_image(test::sam_case_image(*test::sam_case_file("dog")));
  c10::InferenceMode guard;
  const int64_t B = 20;  // more than one of the decoder's chunks of prompts
  at::manual_seed(3);
  const at::Tensor coords = at::rand({B, 1, 2}) * float(model->config().image_size) * 0.6f;
  const at::Tensor labels = at::ones({B, 1}, at::kInt);
  auto [all_masks, all_iou] = sam::decode_low_res(predictor, coords, labels, {}, {}, true);
  // A threshold halfway between the two middle best predictions, so that half the prompts pass
  // and no prompt's prediction lies within float rounding of it (the filtered decode computes
  // the IoU token apart from the mask tokens, which rounds differently).
  const at::Tensor best = std::get<0>(all_iou.max(1));
  const at::Tensor sorted = std::get<0>(best.sort());
  const float below = sorted[B / 2 - 1].item<float>(), above = sorted[B / 2].item<float>();
  ASSERT_GT(above - below, 1e-4f);
  const double threshold = 0.5 * (double(below) + double(above));
  auto [masks, iou] = sam::decode_low_res(predictor, coords, labels, {}, {}, true, threshold);

  // The filtered decode attends the kept prompts' mask tokens apart from their IoU tokens, so
  // its products take other shapes: equal up to float rounding.
  EXPECT_LT((iou - all_iou).abs().max().item<float>(), 1e-5f);
  int passed = 0, skipped = 0;
  for (int64_t b = 0; b < B; ++b) {
    if (best[b].item<float>() > threshold) {
      ++passed;
      EXPECT_LT((masks[b] - all_masks[b]).abs().max().item<float>(), 1e-4f) << "prompt " << b;
    } else {
      ++skipped;
      EXPECT_TRUE(masks[b].isnan().all().item<bool>()) << "prompt " << b;
    }
  }
  EXPECT_GT(passed, 0);
  EXPECT_GT(skipped, 0);
}

TEST(MaskDecoder, ABatchOfPromptsDecodesAsEachPromptAlone) {
  // A batch takes the factored transformer (kept for the next batch on the same image), one
  // prompt the plain one: the same masks and IoU predictions up to float rounding.
  auto model = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  SamPredictor predictor(model);
  predictor.set_image(test::sam_case_image(*test::sam_case_file("dog")));
  c10::InferenceMode guard;
  const int64_t B = 6;
  at::manual_seed(5);
  const at::Tensor coords = at::rand({B, 1, 2}) * float(model->config().image_size) * 0.6f;
  const at::Tensor labels = at::ones({B, 1}, at::kInt);
  auto [masks, iou] = sam::decode_low_res(predictor, coords, labels, {}, {}, true);
  for (int64_t b = 0; b < B; ++b) {
    auto [one_mask, one_iou] =
        sam::decode_low_res(predictor, coords.slice(0, b, b + 1), labels.slice(0, b, b + 1), {}, {}, true);
    EXPECT_LT((masks[b] - one_mask[0]).abs().max().item<float>(), 1e-3f) << "prompt " << b;
    EXPECT_LT((iou[b] - one_iou[0]).abs().max().item<float>(), 1e-5f) << "prompt " << b;
  }
  auto [again_masks, again_iou] = sam::decode_low_res(predictor, coords, labels, {}, {}, true);
  EXPECT_TRUE(again_masks.equal(masks));
  EXPECT_TRUE(again_iou.equal(iou));
}
