// segkit serve's SAM 3 API over loopback (server/sam3_service): predict with "text" beside the
// tiny SAM answers as the library does, features are computed once per image, exemplar boxes,
// every refusal, and a SAM 3-only server.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <nlohmann/json.hpp>

#include "sam3_vision_fixtures.h"
#include "segkit/files.h"
#include "segkit/rle.h"
#include "segkit/sam3.h"
#include "server_test_util.h"

using namespace segkit;
using namespace segkit::test;
using nlohmann::json;

namespace {

std::shared_ptr<const Sam3Model> tiny_sam3() {
  static auto model = Sam3Model::load(sam3_tiny(), quiet_load_options());
  return model;
}

std::string synth_png() { return read_text_file(data_path("sam3/images/synth_rgb.png")); }  // bytes as they are

httplib::Result predict(httplib::Client& c, const std::string& id, const std::string& body) {
  return c.Post(("/v1/images/" + id + "/predict").c_str(), body, kJson);
}

}  // namespace

TEST_F(ServerApi, Sam3PredictAnswersAsTheLibraryAndKeepsTheImageFeatures) {
  TestServer s({}, {{"sam", tiny_sam()}, {"words", tiny_sam3()}});
  auto c = s.client();
  const std::string id = upload(c, synth_png());
  Sam3Options all;
  all.threshold = 0.0f;  // every query of the tiny random model
  const Image image = load_image(data_path("sam3/images/synth_rgb.png"));
  const std::vector<Sam3Result> want = tiny_sam3()->segment(image, {"yellow truck", "a dog"}, all);
  for (bool cached : {false, true}) {
    auto r = predict(c, id, R"({"text": ["yellow truck", "a dog"], "threshold": 0})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json out = body_of(r);
    EXPECT_EQ(out["model"], "words");
    EXPECT_EQ(out["image_features_cached"], cached);
    EXPECT_EQ(out["width"], 200);
    ASSERT_EQ(out["results"].size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      const json& result = out["results"][k];
      EXPECT_EQ(result["text"], want[k].text);
      ASSERT_EQ(result["instances"].size(), static_cast<size_t>(want[k].size()));
      for (int i = 0; i < want[k].size(); ++i) {
        const json& inst = result["instances"][i];
        EXPECT_NEAR(inst["score"].get<double>(), want[k].scores[i], 1e-6);
        EXPECT_NEAR(inst["box"][2].get<double>(), want[k].boxes[i][2], 1e-3);
        const std::vector<uint8_t> mask = rle_decode(rle_from_string(inst["segmentation"]["counts"], 150, 200));
        EXPECT_TRUE(std::equal(mask.begin(), mask.end(), want[k].mask(i)));
      }
    }
  }
  // Exemplar boxes alone read as "visual"; the SAM prompts still go to SAM.
  auto r = predict(c, id, R"({"boxes": [[20, 30, 120, 110]], "model": "words"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["results"][0]["text"], "visual");
  r = predict(c, id, R"({"points": [[10, 10]]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(body_of(r).contains("masks"));
}

TEST_F(ServerApi, Sam3PredictRefusesBadRequestsInOneLine) {
  TestServer s({}, {{"sam", tiny_sam()}, {"words", tiny_sam3()}});
  auto c = s.client();
  const std::string id = upload(c, synth_png());
  expect_error(predict(c, id, R"({"text": 3})"), 400, "text: expected a phrase");
  expect_error(predict(c, id, R"({"text": []})"), 400, "text: expected 1 to 16 phrases");
  expect_error(predict(c, id, R"({"text": "truck", "boxes": [[1, 2, 3]]})"), 400, "boxes[0]: expected [x0, y0, x1, y1]");
  expect_error(predict(c, id, R"({"text": "truck", "boxes": [[300, 1, 400, 5]]})"), 400, "lies outside the 200×150 image");
  expect_error(predict(c, id, R"({"text": "truck", "box_labels": [2]})"), 400, "box_labels[0]: expected 1");
  expect_error(predict(c, id, R"({"text": "truck", "boxes": [[1, 2, 30, 40]], "box_labels": [1, 0]})"), 400,
               "box_labels: 2 labels for 1 boxes");
  expect_error(predict(c, id, R"({"text": "truck", "threshold": 2})"), 400, "threshold: expected a number between 0 and 1");
  expect_error(predict(c, id, R"({"text": " "})"), 400, "empty phrase");
  expect_error(predict(c, id, R"({"text": "truck", "points": [[1, 2]]})"), 400, "points: unknown field");
  expect_error(predict(c, id, R"({"text": "truck", "model": "sam"})"), 400, "sam is not a SAM 3 model");
  expect_error(predict(c, id, R"({"text": "truck", "model": "nope"})"), 404, "no model named nope");
  expect_error(predict(c, "0123456789abcdef0123456789abcdef", R"({"text": "truck"})"), 404, "not in the cache");
  // Without a SAM 3 model, words are refused by name.
  TestServer sam_only;
  auto c2 = sam_only.client();
  const std::string id2 = upload(c2, synth_png());
  expect_error(predict(c2, id2, R"({"text": "truck"})"), 404, "no SAM 3 model");
}

TEST_F(ServerApi, ASam3OnlyServerTakesWordsAndListsTheModel) {
  TestServer s({}, {{"words", tiny_sam3()}});
  auto c = s.client();
  const std::string id = upload(c, synth_png());
  expect_error(predict(c, id, R"({"points": [[10, 10]]})"), 400, "points: unknown field");
  auto r = predict(c, id, R"({"text": "truck"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  const json models = body_of(r)["models"];
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["family"], "sam3");
  EXPECT_EQ(models[0]["prompts"], json({"text", "boxes"}));
}

#endif  // SEGKIT_WITH_SERVER
