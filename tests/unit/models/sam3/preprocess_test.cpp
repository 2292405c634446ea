// Sam3ImageProcessor's pixel values against transformers 5.17's on the fixture's synthetic
// images, one of them RGBA with transparent and half-transparent bands: 5.17 drops the alpha
// channel and keeps the colours underneath, as segkit's decoder does.
#include <gtest/gtest.h>

#include "models/sam3/preprocess.h"
#include "sam3_vision_fixtures.h"
#include "segkit/image.h"

namespace segkit::test {
namespace {

class Sam3Preprocess : public ::testing::TestWithParam<const char*> {};

TEST_P(Sam3Preprocess, MatchesTheImageProcessor) {
  const std::string image = GetParam();
  auto f = sam3_case(image + "_text0");
  const sam3::ProcessorConfig p = sam3_tiny_processor();
  const Image input = load_image(data_path("sam3/images/" + image + ".png"));
  // torch's uint8 resize to the bit.
  const Image resized = sam3::resize_for_model(input, p);
  const at::Tensor expected_u8 = case_tensor(*f, "in.resized_uint8");
  ASSERT_EQ(resized.height, 168);
  ASSERT_EQ(resized.width, 168);
  const at::Tensor ours_u8 =
      at::from_blob(const_cast<uint8_t*>(resized.rgb.data()), {1, 168, 168, 3}, at::kByte).permute({0, 3, 1, 2});
  EXPECT_EQ((ours_u8.to(at::kInt) != expected_u8.to(at::kInt)).sum().item<int64_t>(), 0);
  // Then float rounding only.
  const at::Tensor x = sam3::preprocess_image(input, p);
  const at::Tensor expected = case_tensor(*f, "in.pixel_values");
  ASSERT_EQ(x.sizes(), expected.sizes());
  EXPECT_LE((x - expected).abs().max().item<float>(), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Images, Sam3Preprocess, ::testing::Values("synth_rgb", "synth_rgba"));

}  // namespace
}  // namespace segkit::test
