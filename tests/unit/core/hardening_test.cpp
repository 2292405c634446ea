// Regressions found while fuzzing and hardening (issue 7): each case once crashed, read out of
// bounds, or had undefined behaviour; now each is refused with a one-line Error or handled.
#include <gtest/gtest.h>

#include <climits>
#include <filesystem>
#include <functional>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "checkpoints/pth_reader.h"
#include "core/json_read.h"
#include "segkit/coco_eval.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "segkit/sam.h"
#include "test_util.h"

using namespace segkit;
using segkit::test::error_of;

namespace {

std::shared_ptr<std::vector<uint8_t>> safetensors_bytes(const std::string& header, size_t data_bytes) {
  auto b = std::make_shared<std::vector<uint8_t>>();
  for (int i = 0; i < 8; ++i) b->push_back(static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i)));
  b->insert(b->end(), header.begin(), header.end());
  b->resize(b->size() + data_bytes, 0);
  return b;
}

}  // namespace

TEST(Hardening, SafetensorsShapeWhoseByteCountWrapsToZeroIsRefused) {
  // 2^62 float64 elements are 2^65 bytes, which wrapped to 0 and matched the empty data range;
  // to_float then read 2^64 bytes from the map.
  for (const char* shape : {"[4611686018427387904]", "[2147483648,2147483648]", "[18446744073709551615]"}) {
    auto b = safetensors_bytes(std::string(R"({"a":{"dtype":"F64","shape":)") + shape + R"(,"data_offsets":[0,0]}})", 0);
    const std::string msg = error_of([&] { SafetensorsFile::from_memory(b, b->data(), b->size(), "m.safetensors"); });
    EXPECT_NE(msg.find("m.safetensors: tensor 'a' is impossibly large"), std::string::npos) << shape << ": " << msg;
  }
}

TEST(Hardening, SafetensorsFromMemoryAcceptsWhatOpenAccepts) {
  auto b = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]}})", 8);
  const float two[2] = {1.5f, -2.f};
  std::memcpy(b->data() + b->size() - 8, two, 8);
  auto f = SafetensorsFile::from_memory(b, b->data(), b->size(), "m");
  EXPECT_EQ(f->to_float("a"), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(f->get("e").numel(), 0);
  // An empty F32 tensor: found by fuzz_safetensors, memcpy from a null pointer (UBSan, in the
  // sanitized suite).
  EXPECT_TRUE(f->to_float("e").empty());
}

TEST(Hardening, SafetensorsHeaderNestedTooDeeplyIsRefused) {
  auto b = safetensors_bytes(std::string(100000, '[') + std::string(100000, ']'), 0);
  const std::string msg = error_of([&] { SafetensorsFile::from_memory(b, b->data(), b->size(), "deep.safetensors"); });
  EXPECT_NE(msg.find("deep.safetensors: not a safetensors file"), std::string::npos) << msg;
}

TEST(Hardening, PthFromMemoryRefusesGarbageWithTheGivenName) {
  auto b = std::make_shared<std::vector<uint8_t>>(std::vector<uint8_t>{'P', 'K', 3, 4, 0, 0});
  const std::string msg = error_of([&] { PthFile::from_memory(b, b->data(), b->size(), "up.pth"); });
  EXPECT_EQ(msg.rfind("up.pth: ", 0), 0u) << msg;
}

TEST(Hardening, BmpHeightOfIntMinDoesNotOverflow) {
  // std::abs(INT32_MIN) is undefined behaviour (UBSan report) in the size probe.
  std::vector<uint8_t> bmp(54, 0);
  bmp[0] = 'B';
  bmp[1] = 'M';
  const int32_t w = 1, h = INT32_MIN;
  std::memcpy(bmp.data() + 18, &w, 4);
  std::memcpy(bmp.data() + 22, &h, 4);
  EXPECT_EQ(probe_image_size(bmp.data(), bmp.size()), std::make_pair(1, INT32_MAX));
  const std::string msg = error_of([&] { decode_image(bmp.data(), bmp.size(), "bomb.bmp"); });
  EXPECT_NE(msg.find("bomb.bmp: image is 1x2147483647, more than the limit"), std::string::npos) << msg;
}

TEST(Hardening, CocoIdsBeyondInt64AreRefused) {
  // Found by fuzz_coco_json: a whole-number float id outside int64 was converted anyway (UBSan).
  const std::string gt = R"({"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}],
    "annotations": [{"id": 2.77778e+38, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4,
                     "iscrowd": 0, "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]}]})";
  const std::string msg = error_of([&] { coco_evaluate_segm(gt, "gt.json", "[]", "results.json"); });
  EXPECT_NE(msg.find("must be an integer"), std::string::npos) << msg;
}

TEST(Hardening, JsonDepthAndSizeLimits) {
  JsonLimits limits;
  limits.max_depth = 4;
  EXPECT_NO_THROW(parse_json("[[[1]]]", "ok.json", limits));
  EXPECT_EQ(error_of([&] { parse_json("[[[[[[1]]]]]]", "deep.json", limits); }),
            "deep.json: JSON nested deeper than 4 levels");
  limits.max_bytes = 3;
  EXPECT_EQ(error_of([&] { parse_json("[1,2]", "big.json", limits); }),
            "big.json: JSON is 5 bytes, more than the limit of 3");
  EXPECT_NE(error_of([] { parse_json("{", "bad.json"); }).find("bad.json: malformed JSON"), std::string::npos);
  // The default depth limit still refuses a hostile file cheaply.
  EXPECT_NE(error_of([] { parse_json(std::string(1 << 20, '['), "bomb.json"); }).find("nested deeper"),
            std::string::npos);
}

TEST(Hardening, DefaultPixelLimitIsConfigurable) {
  const int64_t before = default_max_pixels();
  set_default_max_pixels(12);
  EXPECT_EQ(ImageLimits{}.max_pixels, 12);
  EXPECT_EQ(error_of([] { set_default_max_pixels(0); }), "--max-pixels: 0 is not a positive pixel count");
  set_default_max_pixels(before);
}

// A Hugging Face model folder whose config.json / preprocessor_config.json have one value
// changed; loading it must give a one-line Error (these once escaped as JSON library
// exceptions, out-of-range conversions or a division by zero).
TEST(Hardening, BadValuesInHuggingFaceConfigsAreRefused) {
  const std::string src = test::data_path("sam-tiny/hf");
  struct Case {
    const char* file;
    std::function<void(nlohmann::json&)> change;
    std::string expect;
  } cases[] = {
      {"config.json", [](nlohmann::json& j) { j["mask_decoder_config"]["num_attention_heads"] = "four"; },
       "config.json: \"num_attention_heads\" must be an integer from 1 to 65536"},
      {"config.json", [](nlohmann::json& j) { j["mask_decoder_config"]["num_attention_heads"] = 1e300; },
       "config.json: \"num_attention_heads\" must be an integer from 1 to 65536"},
      {"config.json", [](nlohmann::json& j) { j["mask_decoder_config"]["num_attention_heads"] = 5; },
       "config.json: cannot split the decoder width 32 into 5 heads"},
      {"preprocessor_config.json", [](nlohmann::json& j) { j["rescale_factor"] = 0; },
       "preprocessor_config.json: \"rescale_factor\" must be positive"},
      {"preprocessor_config.json", [](nlohmann::json& j) { j["image_std"] = {0.2, "x", 0.2}; },
       "preprocessor_config.json: \"image_std\" must be a list of finite numbers"},
  };
  for (const auto& c : cases) {
    test::TempDir dir;
    for (const char* f : {"config.json", "preprocessor_config.json", "model.safetensors"})
      std::filesystem::copy_file(src + "/" + f, dir.file(f));
    nlohmann::json j = read_json_file(dir.file(c.file));
    c.change(j);
    write_text_atomically(dir.file(c.file), j.dump());
    EXPECT_EQ(error_of([&] { SamModel::load(dir.path()); }), c.expect);
  }
  test::TempDir dir;
  for (const char* f : {"preprocessor_config.json", "model.safetensors"})
    std::filesystem::copy_file(src + "/" + f, dir.file(f));
  write_text_atomically(dir.file("config.json"), std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(error_of([&] { SamModel::load(dir.path()); }),
            dir.file("config.json") + ": JSON nested deeper than 512 levels");
}
