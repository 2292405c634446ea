// segkit serve's Mask2Former API over loopback (server/mask2former_service), with the tiny
// Mask2Former beside the tiny SAM: segment in every task, answers equal to the library's,
// every refusal, the model list, and a server without one family or the other.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <nlohmann/json.hpp>
#include <set>

#include "mask2former_fixtures.h"
#include "segkit/error.h"
#include "segkit/mask2former.h"
#include "segkit/rle.h"
#include "server_test_util.h"

using namespace segkit;
using namespace segkit::test;
using nlohmann::json;

namespace {

std::shared_ptr<const Mask2FormerModel> tiny_m2f() {
  static auto model = Mask2FormerModel::load(mask2former_tiny(), quiet_load_options());
  return model;
}

std::vector<HostedModel> both_models() { return {{"sam", tiny_sam()}, {"m2f", tiny_m2f()}}; }

Image truck_image() {
  const std::string png = truck_png();
  return decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "truck");
}

httplib::Result segment(httplib::Client& c, const std::string& id, const std::string& body) {
  return c.Post(("/v1/images/" + id + "/segment").c_str(), body, kJson);
}

}  // namespace

TEST_F(ServerApi, SegmentAnswersEachTaskAsTheLibrary) {
  TestServer s({}, both_models());
  auto c = s.client();
  const std::string id = upload(c, png());
  const Image image = truck_image();
  for (const char* task : {"semantic", "instance", "panoptic"}) {
    SCOPED_TRACE(task);
    // threshold 0 keeps the tiny random model's low-scored queries, so that instances exist.
    auto r = segment(c, id, json{{"task", task}, {"threshold", 0.0}}.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json out = body_of(r);
    EXPECT_EQ(out["task"], task);
    EXPECT_EQ(out["model"], "m2f");
    EXPECT_EQ(out["width"], 300);
    EXPECT_EQ(out["height"], 200);

    SegmentationOptions options;
    options.threshold = 0;
    options.transformers_ids = false;
    const Segmentation want = tiny_m2f()->segment(image, parse_segmentation_task(task), options);
    ASSERT_EQ(out["segments"].size(), want.segments.size());
    ASSERT_FALSE(want.segments.empty());
    const size_t plane = size_t(want.width) * want.height;
    for (size_t k = 0; k < want.segments.size(); ++k) {
      const json& seg = out["segments"][k];
      const Segment& w = want.segments[k];
      EXPECT_EQ(seg["id"], w.id);
      EXPECT_EQ(seg["label_id"], w.label_id);
      EXPECT_EQ(seg["label"], tiny_m2f()->labels()[w.label_id]);
      EXPECT_NEAR(seg["score"].get<double>(), w.score, 1e-6);
      EXPECT_EQ(seg["was_fused"], w.was_fused);
      EXPECT_EQ(seg.contains("isthing"), std::string(task) == "panoptic");
      // The RLE decodes to a mask of the image's size, the segment's own pixels, and its area.
      EXPECT_EQ(seg["segmentation"]["size"], json({200, 300}));
      const Rle rle = rle_from_string(seg["segmentation"]["counts"], 200, 300);
      const std::vector<uint8_t> mask = rle_decode(rle);
      ASSERT_EQ(mask.size(), plane);
      uint64_t area = 0;
      size_t differ = 0;
      for (size_t i = 0; i < plane; ++i) {
        const bool expected = std::string(task) == "instance" ? want.instance_masks[k * plane + i] != 0 : want.ids[i] == w.id;
        area += mask[i];
        differ += (mask[i] != 0) != expected;
      }
      EXPECT_EQ(differ, 0u);
      EXPECT_GT(area, 0u);
      EXPECT_EQ(seg["area"], area);
      EXPECT_EQ(seg["bbox"].size(), 4u);
    }
  }
}

TEST_F(ServerApi, SegmentTakesTheOptionsAndAModelName) {
  TestServer s({}, both_models());
  auto c = s.client();
  const std::string id = upload(c, png());
  // Defaults: panoptic with the first Mask2Former model.
  auto r = segment(c, id, "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["task"], "panoptic");
  EXPECT_EQ(body_of(r)["model"], "m2f");
  // Every label fused: one segment per label present, each marked fused and stuff.
  r = segment(c, id, R"({"task": "panoptic", "model": "m2f", "threshold": 0, "mask_threshold": 0.4,
                         "overlap_mask_area_threshold": 0.5, "label_ids_to_fuse": [0, 1, 2, 3, 4, 5, 6]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::set<int> labels;
  const json fused = body_of(r);  // a named value: ranging over a member of a temporary would dangle
  for (const json& seg : fused["segments"]) {
    EXPECT_TRUE(seg["was_fused"]);
    EXPECT_FALSE(seg["isthing"]);
    EXPECT_TRUE(labels.insert(seg["label_id"].get<int>()).second) << "label " << seg["label_id"] << " twice";
  }
}

TEST_F(ServerApi, SegmentRefusesBadRequestsInOneLine) {
  TestServer s({}, both_models());
  auto c = s.client();
  const std::string id = upload(c, png());
  expect_error(segment(c, id, R"({"task": "everything"})"), 400, "task: expected");
  expect_error(segment(c, id, R"({"task": 1})"), 400, "task: expected");
  expect_error(segment(c, id, R"({"threshold": "high"})"), 400, "threshold: expected a number");
  expect_error(segment(c, id, R"({"mask_threshold": 1.5})"), 400, "mask_threshold: expected a number between 0 and 1");
  expect_error(segment(c, id, R"({"overlap_mask_area_threshold": -0.1})"), 400, "overlap_mask_area_threshold");
  expect_error(segment(c, id, R"({"label_ids_to_fuse": 3})"), 400, "label_ids_to_fuse: expected a list");
  expect_error(segment(c, id, R"({"label_ids_to_fuse": [1, "sky"]})"), 400, "label_ids_to_fuse[1]");
  expect_error(segment(c, id, R"({"label_ids_to_fuse": [7]})"), 400, "label 7 is not one of the model's 0..6");
  expect_error(segment(c, id, R"({"points": [[1, 2]]})"), 400, "points: unknown field");
  expect_error(segment(c, id, R"({"model": 3})"), 400, "model: expected the name");
  expect_error(segment(c, id, R"({"model": "sam"})"), 400, "sam is not a Mask2Former model");
  expect_error(segment(c, id, R"({"model": "nope"})"), 404, "no model named nope");
  expect_error(segment(c, id, "[1]"), 400, "expected a JSON object");
  expect_error(segment(c, id, "{"), 400, "not valid JSON");
  expect_error(segment(c, "0123456789abcdef0123456789abcdef", "{}"), 404, "not in the cache");
  expect_error(c.Get(("/v1/images/" + id + "/segment").c_str()), 405);
}

TEST_F(ServerApi, SegmentWithoutAMask2FormerModelIs404) {
  TestServer s;
  auto c = s.client();
  const std::string id = upload(c, png());
  expect_error(segment(c, id, R"({"task": "panoptic"})"), 404, "no Mask2Former model");
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json models = body_of(r)["models"];
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["name"], "sam");
  EXPECT_EQ(models[0]["family"], "sam");
  EXPECT_FALSE(models[0].contains("labels"));
}

TEST_F(ServerApi, ModelsListsEveryHostedModelWithItsLabels) {
  TestServer s({}, both_models());
  auto c = s.client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json models = body_of(r)["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["name"], "sam");
  EXPECT_EQ(models[0]["family"], "sam");
  EXPECT_EQ(models[1]["name"], "m2f");
  EXPECT_EQ(models[1]["family"], "mask2former");
  EXPECT_EQ(models[1]["labels"], json(tiny_m2f()->labels()));
  // The SAM routes are unchanged beside it.
  r = c.Get("/v1/model");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["architecture"], "sam");
}

TEST_F(ServerApi, AMask2FormerOnlyServerKeepsUploadsAndRefusesTheSamRoutes) {
  TestServer s({}, {{"m2f", tiny_m2f()}});
  auto c = s.client();
  auto r = c.Post("/v1/images", png(), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = body_of(r)["image_id"];
  EXPECT_EQ(body_of(r)["width"], 300);
  r = segment(c, id, R"({"task": "semantic"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  expect_error(c.Post(("/v1/images/" + id + "/predict").c_str(), R"({"points": [[10, 10]]})", kJson), 404, "no SAM model");
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), "{}", kJson), 404, "no SAM model");
  expect_error(c.Get("/v1/model"), 404, "no SAM model");
  r = c.Get("/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(body_of(r)["cache"]["entries"], 1);
}

TEST(ServerModels, RefusesRepeatedNamesAndASecondSamModel) {
  ServerOptions options;
  options.port = 0;
  options.log = nullptr;
  auto error_of = [&](std::vector<HostedModel> models) {
    try {
      SegmentServer server(std::move(models), options);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of({{"a", tiny_sam()}, {"a", tiny_m2f()}}).find("two models are named a"), std::string::npos);
  EXPECT_NE(error_of({{"a", tiny_sam()}, {"b", tiny_sam()}}).find("one SAM model per server"), std::string::npos);
  EXPECT_NE(error_of({}).find("no model"), std::string::npos);
  EXPECT_NE(error_of({{"", tiny_m2f()}}).find("empty name"), std::string::npos);
}

TEST(ServerModels, NamesComeFromTheSourcesLastComponent) {
  EXPECT_EQ(model_name_from_source("facebook/sam-vit-base"), "sam-vit-base");
  EXPECT_EQ(model_name_from_source("models/mask2former-coco/"), "mask2former-coco");
  EXPECT_EQ(model_name_from_source("ckpt/sam_vit_b_01ec64.pth"), "sam_vit_b_01ec64");
  EXPECT_EQ(model_name_from_source("run/best.safetensors"), "best");
  EXPECT_EQ(model_name_from_source("odd name@v1"), "odd-name-v1");
}

#endif
