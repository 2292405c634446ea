// Every Mask2Former golden of ../shared/fixtures/mask2former when that folder exists (skipped
// otherwise): the padded three-image batch through the network, and each of its images through
// the processor and transformers' post-processing. tests/data holds only the img0 cases.
#include <gtest/gtest.h>

#include <filesystem>

#include "mask2former_fixtures.h"
#include "models/mask2former/hf_postprocess.h"
#include "models/mask2former/model_impl.h"
#include "models/mask2former/preprocess.h"
#include "segkit/image.h"
#include "segkit/mask2former.h"

namespace segkit::test {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = fs::path(SEGKIT_SOURCE_DIR) / ".." / "shared" / "fixtures" / "mask2former";

class Mask2FormerSharedFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kShared / "index.json")) GTEST_SKIP() << "no " << kShared.string();
  }
  std::shared_ptr<const SafetensorsFile> batch() const {
    return SafetensorsFile::open((kShared / "cases" / "batch_shortest_edge.safetensors").string());
  }
};

double agreement(const Segmentation& s, const at::Tensor& expected_map) {
  const at::Tensor e = expected_map.to(at::kInt).flatten().contiguous();
  if (static_cast<size_t>(e.numel()) != s.ids.size()) return 0;
  size_t equal = 0;
  for (size_t i = 0; i < s.ids.size(); ++i) equal += s.ids[i] == e.data_ptr<int32_t>()[i];
  return static_cast<double>(equal) / s.ids.size();
}

TEST_F(Mask2FormerSharedFixtures, PaddedBatchThroughTheNetwork) {
  LoadOptions options;
  options.warn_unused = false;
  const auto model = Mask2FormerModel::load((kShared / "model").string(), options);
  auto f = batch();
  const mask2former::RawOutput raw = mask2former::Internals::run(*model, case_tensor(*f, "inputs.pixel_values"), true);
  for (int s = 0; s < 4; ++s)
    EXPECT_LE(relative_l2(raw.backbone_features[s], case_tensor(*f, "out.encoder_hidden_states." + std::to_string(s))), 1e-4);
  for (int l = 0; l < 3; ++l)
    EXPECT_LE(relative_l2(raw.pixel_decoder.multi_scale[l], case_tensor(*f, "out.pixel_decoder_hidden_states." + std::to_string(l))),
              1e-4);
  EXPECT_LE(relative_l2(raw.last().class_logits, case_tensor(*f, "out.class_queries_logits")), 1e-4);
  EXPECT_LE(relative_l2(raw.last().mask_logits, case_tensor(*f, "out.masks_queries_logits")), 1e-4);
  for (int i = 0; i < 4; ++i)
    EXPECT_LE(relative_l2(raw.decoder.predictions[i].mask_logits,
                          case_tensor(*f, "out.auxiliary_logits." + std::to_string(i) + ".masks_queries_logits")),
              1e-4);
}

TEST_F(Mask2FormerSharedFixtures, EachBatchImageThroughProcessorAndPostprocessing) {
  auto f = batch();
  const at::Tensor pixels = case_tensor(*f, "inputs.pixel_values");
  Mask2FormerProcessorConfig processor;
  processor.height = processor.width = 0;
  processor.shortest_edge = 224;
  processor.longest_edge = 1024;
  const at::Tensor classes = case_tensor(*f, "out.class_queries_logits");
  const at::Tensor masks = case_tensor(*f, "out.masks_queries_logits");
  for (int b = 0; b < 3; ++b) {
    SCOPED_TRACE("image " + std::to_string(b));
    const Image image = load_image((kShared / "inputs" / ("img" + std::to_string(b) + ".png")).string());
    const at::Tensor mine = mask2former::preprocess_image(image, processor);
    const at::Tensor theirs = pixels[b].narrow(1, 0, mine.size(2)).narrow(2, 0, mine.size(3)).unsqueeze(0);
    EXPECT_LE((mine - theirs).abs().max().item<float>(), 1e-5);

    const std::string p = ".b" + std::to_string(b) + ".segmentation";
    SegmentationOptions thr0, fuse;
    thr0.threshold = fuse.threshold = 0.0f;
    fuse.label_ids_to_fuse = {3, 4, 5, 6};
    const at::Tensor c = classes[b], m = masks[b];
    const int h = image.height, w = image.width;
    EXPECT_GE(agreement(mask2former::semantic_segmentation(c, m, h, w), case_tensor(*f, "post.semantic" + p)), 0.999);
    EXPECT_GE(agreement(mask2former::instance_segmentation(c, m, thr0, h, w), case_tensor(*f, "post.instance.thr0" + p)), 0.999);
    EXPECT_GE(agreement(mask2former::panoptic_segmentation(c, m, fuse, h, w), case_tensor(*f, "post.panoptic.thr0_fuse_stuff" + p)),
              0.999);
    EXPECT_GE(agreement(mask2former::panoptic_segmentation(c, m, thr0, h, w), case_tensor(*f, "post.panoptic.thr0_nofuse" + p)),
              0.999);
    EXPECT_GE(agreement(mask2former::panoptic_segmentation(c, m, {}, h, w), case_tensor(*f, "post.panoptic.default" + p)), 0.999);
  }
}

}  // namespace
}  // namespace segkit::test
