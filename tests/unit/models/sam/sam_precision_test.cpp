// The bf16 encoder against the fp32 one on the SAM fixtures: what `--precision bf16` promises
// (masks agree on >= 99% of pixels, IoU predictions within 0.02).
#include <gtest/gtest.h>

#include "sam_fixtures.h"
#include "segkit/error.h"
#include "segkit/machine.h"
#include "segkit/sam.h"

using namespace segkit;

TEST(SamPrecision, Bf16MasksAgreeWithFp32OnTheFixtures) {
  LoadOptions fp32_options, bf16_options;
  fp32_options.warn_unused = bf16_options.warn_unused = false;
  bf16_options.precision = Precision::Bf16;
  auto fp32 = SamModel::load(test::sam_tiny_hf(), fp32_options);
  auto bf16 = SamModel::load(test::sam_tiny_hf(), bf16_options);
  ASSERT_EQ(bf16->precision(), Precision::Bf16);
  SamPredictor a(fp32), b(bf16);
  size_t pixels = 0, agree = 0;
  double worst_iou = 0, embedding_error = 0;
  for (const auto& entry : test::sam_case_index()) {
    auto f = test::sam_case_file(entry["image"]);
    Image image = test::sam_case_image(*f);
    a.set_image(image);
    b.set_image(image);
    SamEmbedding ea = a.embedding(), eb = b.embedding();
    embedding_error = std::max(embedding_error, test::relative_l2(eb.data.data(), ea.data.data(), ea.data.size()));
    // Points spread over the image, one prompt each, multimask as the CLI defaults.
    for (int i = 0; i < 4; ++i) {
      SamPrompt p;
      p.points = {{image.width * (0.2f + 0.2f * i), image.height * (0.8f - 0.2f * i)}};
      p.labels = {1};
      SamPrediction pa = a.predict(p), pb = b.predict(p);
      ASSERT_EQ(pa.masks.size(), pb.masks.size());
      for (size_t k = 0; k < pa.masks.size(); ++k) agree += pa.masks[k] == pb.masks[k];
      pixels += pa.masks.size();
      for (int k = 0; k < pa.num_masks; ++k)
        worst_iou = std::max(worst_iou, double(std::abs(pa.iou_predictions[k] - pb.iou_predictions[k])));
    }
  }
  EXPECT_GT(embedding_error, 0.0) << "bf16 should differ from fp32 at all";
  EXPECT_LT(embedding_error, 0.05);
  EXPECT_GE(double(agree), 0.99 * double(pixels)) << "agreement " << double(agree) / pixels;
  EXPECT_LE(worst_iou, 0.02);
  RecordProperty("pixel_agreement", std::to_string(double(agree) / pixels));
  RecordProperty("worst_iou_difference", std::to_string(worst_iou));
  RecordProperty("embedding_relative_l2", std::to_string(embedding_error));
}

TEST(SamPrecision, AutoResolvesByTheCpuAndNamesParse) {
  LoadOptions o;
  o.warn_unused = false;
  o.precision = Precision::Auto;
  auto m = SamModel::load(test::sam_tiny_hf(), o);
  EXPECT_EQ(m->precision(), machine_info().native_bf16 ? Precision::Bf16 : Precision::Fp32);
  EXPECT_EQ(parse_precision("bf16"), Precision::Bf16);
  EXPECT_EQ(parse_precision("auto"), Precision::Auto);
  EXPECT_STREQ(precision_name(parse_precision("fp32")), "fp32");
  EXPECT_THROW(parse_precision("fp16"), Error);
}
