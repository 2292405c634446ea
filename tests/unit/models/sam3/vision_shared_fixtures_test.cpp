// Every SAM 3 vision golden of ../shared/fixtures/sam3 when that folder exists (skipped
// otherwise): each case's images through the processor (the photographs included, whose
// downscaling tests the antialiased resize hardest), every full-capture case through the vision
// encoder, and the two-image batch. tests/data holds three trimmed cases.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "models/sam3/checkpoint.h"
#include "models/sam3/preprocess.h"
#include "models/sam3/vision_encoder.h"
#include "sam3_vision_fixtures.h"
#include "segkit/image.h"

namespace segkit::test {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = fs::path(SEGKIT_SOURCE_DIR) / ".." / "shared" / "fixtures" / "sam3";

class Sam3VisionSharedFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kShared / "index.json")) GTEST_SKIP() << "no " << kShared.string();
    index_ = read_json_file((kShared / "index.json").string(), JsonLimits::config());
    const std::string config_path = (kShared / "model" / "config.json").string();
    config_ = sam3::parse_config(read_json_file(config_path, JsonLimits::config()), config_path);
    const std::string processor_path = (kShared / "model" / "processor_config.json").string();
    processor_ = sam3::parse_processor_config(read_json_file(processor_path, JsonLimits::config()), processor_path);
  }

  // The cases whose file is there (the fixture left some out for size).
  std::vector<std::pair<nlohmann::json, std::shared_ptr<const SafetensorsFile>>> cases() const {
    std::vector<std::pair<nlohmann::json, std::shared_ptr<const SafetensorsFile>>> out;
    for (const auto& c : index_["cases"]) {
      const fs::path file = kShared / "cases" / (c["name"].get<std::string>() + ".safetensors");
      if (fs::exists(file)) out.emplace_back(c, SafetensorsFile::open(file.string()));
    }
    return out;
  }

  sam3::VisionEncoder encoder() const {
    static const sam3::LoadedWeights w = sam3::read_weights((kShared / "model" / "model.safetensors").string(), config_);
    return sam3::VisionEncoder::load(w.weights, config_);
  }

  nlohmann::json index_;
  sam3::Sam3Config config_;
  sam3::ProcessorConfig processor_;
};

TEST_F(Sam3VisionSharedFixtures, EveryCaseImageThroughTheProcessor) {
  std::map<std::string, at::Tensor> done;  // png → pixel values
  int compared = 0;
  for (const auto& [c, f] : cases()) {
    const at::Tensor expected = case_tensor(*f, "in.pixel_values");
    const auto& pngs = c["image_pngs"];
    ASSERT_EQ(static_cast<int64_t>(pngs.size()), expected.size(0)) << c["name"];
    for (size_t b = 0; b < pngs.size(); ++b) {
      const std::string png = pngs[b].get<std::string>();
      if (!done.count(png)) done[png] = sam3::preprocess_image(load_image((kShared / png).string()), processor_);
      EXPECT_LE((done[png][0] - expected[b]).abs().max().item<float>(), 1e-5) << c["name"] << " image " << b;
      ++compared;
    }
  }
  EXPECT_GE(compared, 10);
}

TEST_F(Sam3VisionSharedFixtures, EveryFullCaseThroughTheVisionEncoder) {
  const sam3::VisionEncoder e = encoder();
  int compared = 0;
  for (const auto& [c, f] : cases()) {
    if (!f->contains("act.vision_encoder.backbone.layers.0")) continue;
    const std::string name = c["name"].get<std::string>();
    const sam3::VisionFeatures out = e(case_tensor(*f, "in.pixel_values"), true, true);
    for (size_t i = 0; i < out.vit_layers.size(); ++i)
      EXPECT_LE(relative_l2(out.vit_layers[i], case_tensor(*f, "act.vision_encoder.backbone.layers." + std::to_string(i))),
                1e-4) << name << " layer " << i;
    EXPECT_LE(relative_l2(out.last_hidden_state, case_tensor(*f, "act.vision_encoder.backbone.last_hidden_state")), 1e-4)
        << name;
    for (size_t i = 0; i < out.fpn.size(); ++i) {
      EXPECT_LE(relative_l2(out.fpn[i], case_tensor(*f, "act.vision_encoder.neck.fpn_layers." + std::to_string(i))), 1e-4)
          << name << " level " << i;
      EXPECT_LE(relative_l2(out.fpn_position[i], case_tensor(*f, "act.vision_encoder.neck.1." + std::to_string(i))), 1e-6)
          << name << " position " << i;
    }
    ++compared;
  }
  EXPECT_GE(compared, 2);
}

TEST_F(Sam3VisionSharedFixtures, TheTwoImageBatchIsEachImageAlone) {
  const fs::path file = kShared / "cases" / "batch_images.safetensors";
  if (!fs::exists(file)) GTEST_SKIP() << "no batch_images case";
  auto batch = SafetensorsFile::open(file.string());
  const sam3::VisionFeatures out = encoder()(case_tensor(*batch, "in.pixel_values"), true);
  int compared = 0;
  for (const auto& c : index_["cases"])
    if (c["name"] == "batch_images")
      for (size_t b = 0; b < c["images"].size(); ++b) {
        const std::string image = c["images"][b].get<std::string>();
        const auto full = index_["full_vision_case_for_image"].find(image);
        if (full == index_["full_vision_case_for_image"].end()) continue;
        const fs::path single = kShared / "cases" / (full->get<std::string>() + ".safetensors");
        if (!fs::exists(single)) continue;
        auto f = SafetensorsFile::open(single.string());
        for (size_t i = 0; i < out.fpn.size(); ++i)
          EXPECT_LE(relative_l2(out.fpn[i][b], case_tensor(*f, "act.vision_encoder.neck.fpn_layers." + std::to_string(i))[0]),
                    1e-4) << image << " level " << i;
        ++compared;
      }
  EXPECT_GE(compared, 1);
}

}  // namespace
}  // namespace segkit::test
