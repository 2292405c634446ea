// segkit serve's SAM API over loopback (server/sam_service), with the tiny SAM: every route,
// every refusal, answers equal to the library's, jobs.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>

#include "segkit/rle.h"
#include "segkit/sam_generator.h"
#include "segkit/sam_output.h"
#include "server_test_util.h"

using namespace segkit;
using namespace segkit::test;
using nlohmann::json;

namespace {
// Polls a job until it leaves "running".
json wait_for_job(httplib::Client& c, const std::string& job) {
  for (int i = 0; i < 6000; ++i) {
    auto r = c.Get(("/v1/jobs/" + job).c_str());
    if (!r || r->status != 200) throw std::runtime_error("job poll failed");
    json j = json::parse(r->body);
    if (j["state"] != "running") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("job did not finish");
}
}  // namespace

TEST_F(ServerApi, HealthAndModel) {
  test::TestServer s;
  auto c = s.client();
  auto r = c.Get("/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["status"], "ok");
  EXPECT_EQ(body_of(r)["cache"]["entries"], 0);
  r = c.Get("/v1/model");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json m = body_of(r);
  EXPECT_EQ(m["architecture"], "sam");
  EXPECT_EQ(m["image_size"], 256);
  EXPECT_EQ(m["precision"], "float32");
  EXPECT_EQ(m["embedding_shape"], json({32, 16, 16}));
  EXPECT_EQ(m["fingerprint"], test::tiny_sam()->fingerprint());
  EXPECT_EQ(m["limits"]["max_points"], 64);
}

TEST_F(ServerApi, UploadIsKeyedByContentAndPredictMatchesTheLibrary) {
  test::TestServer s;
  auto c = s.client();
  auto r = c.Post("/v1/images", png(), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json up = body_of(r);
  const std::string id = up["image_id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
  EXPECT_EQ(up["width"], 300);
  EXPECT_EQ(up["height"], 200);
  EXPECT_EQ(up["cached"], false);
  r = c.Post("/v1/images", png(), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(body_of(r)["image_id"], id);
  EXPECT_EQ(body_of(r)["cached"], true);  // the second upload of the same bytes is free
  r = c.Get(("/v1/images/" + id).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["width"], 300);

  r = c.Post(("/v1/images/" + id + "/predict").c_str(), R"({"points": [[134.55, 109.45]], "labels": [1]})", kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json p = body_of(r);
  SamPrompt prompt;
  prompt.points = {{134.55f, 109.45f}};
  prompt.labels = {1};
  json want = reference_records(prompt);
  ASSERT_EQ(p["masks"].size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(p["masks"][k]["segmentation"], want[k]["segmentation"]) << k;
    EXPECT_EQ(p["masks"][k]["area"], want[k]["area"]);
    EXPECT_EQ(p["masks"][k]["bbox"], want[k]["bbox"]);
    EXPECT_NEAR(p["masks"][k]["score"].get<double>(), want[k]["score"].get<double>(), 1e-6);
    EXPECT_EQ(p["masks"][k]["segmentation"]["size"], json({200, 300}));
  }
  int best = p["best"];
  for (size_t k = 0; k < 3; ++k) EXPECT_LE(p["masks"][k]["score"].get<double>(), p["masks"][best]["score"].get<double>());

  // Refinement with the returned low-res logits equals feeding them to the library.
  const std::string mid = p["mask_input_id"];
  r = c.Post(("/v1/images/" + id + "/predict").c_str(),
             json{{"points", {{134.55, 109.45}, {60, 50}}}, {"labels", {1, 0}}, {"mask_input_id", mid}, {"multimask", false}}.dump(),
             kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  SamPredictor lib(test::tiny_sam());
  lib.set_image(decode_image(reinterpret_cast<const uint8_t*>(png().data()), png().size(), "truck"));
  SamPrediction first = lib.predict(prompt);
  SamPrompt refine;
  refine.points = {{134.55f, 109.45f}, {60.f, 50.f}};
  refine.labels = {1, 0};
  refine.multimask = false;
  const size_t low = size_t(first.low_res) * first.low_res;
  refine.mask_input.assign(first.low_res_logits.begin() + first.best() * low, first.low_res_logits.begin() + (first.best() + 1) * low);
  json refined = json::parse(prediction_records_json(lib.predict(refine)));
  ASSERT_EQ(body_of(r)["masks"].size(), 1u);
  EXPECT_EQ(body_of(r)["masks"][0]["segmentation"], refined[0]["segmentation"]);

  // A box alone.
  r = c.Post(("/v1/images/" + id + "/predict").c_str(), R"({"box": [40, 60, 250, 180]})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  SamPrompt boxed;
  boxed.box = std::array<float, 4>{40, 60, 250, 180};
  EXPECT_EQ(body_of(r)["masks"], [&] {
    json w = reference_records(boxed);
    json got = body_of(r)["masks"];
    for (size_t k = 0; k < got.size(); ++k) w[k]["score"] = got[k]["score"];  // floats compared above
    return w;
  }());

  r = c.Delete(("/v1/images/" + id).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_error(c.Get(("/v1/images/" + id).c_str()), 404, "upload it again");
}

TEST_F(ServerApi, PredictAsPngIsTheBestMask) {
  test::TestServer s;
  auto c = s.client();
  const std::string id = upload(c, png());
  const std::string body = R"({"points": [[134.55, 109.45]]})";
  auto j = c.Post(("/v1/images/" + id + "/predict").c_str(), body, kJson);
  auto r = c.Post(("/v1/images/" + id + "/predict?format=png").c_str(), body, kJson);
  ASSERT_TRUE(r && j);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  Image mask = decode_image(reinterpret_cast<const uint8_t*>(r->body.data()), r->body.size(), "mask.png");
  ASSERT_EQ(mask.width, 300);
  ASSERT_EQ(mask.height, 200);
  json best = body_of(j)["masks"][body_of(j)["best"].get<int>()];
  Rle rle = rle_from_string(best["segmentation"]["counts"], 200, 300);
  std::vector<uint8_t> want = rle_decode(rle);
  size_t differ = 0;
  for (size_t i = 0; i < want.size(); ++i) differ += (mask.rgb[i * 3] > 127) != (want[i] != 0);
  EXPECT_EQ(differ, 0u);
  expect_error(c.Post(("/v1/images/" + id + "/predict?format=bmp").c_str(), body, kJson), 400, "format");
}

TEST_F(ServerApi, RefusesBadRequestsWithJsonErrors) {
  ServerOptions o;
  o.limits.max_points = 4;
  o.limits.max_body_bytes = 1 << 20;
  o.limits.max_image_pixels = 50'000;  // the truck has 60 000
  test::TestServer s(o);
  auto c = s.client();
  const std::string small = solid_png(64, 48);
  const std::string id = upload(c, small);
  const std::string predict = "/v1/images/" + id + "/predict";

  // 400: body problems, field by field.
  expect_error(c.Post(predict.c_str(), "{\"points\": [[1, 2]", kJson), 400, "not valid JSON");
  expect_error(c.Post(predict.c_str(), "[1, 2]", kJson), 400, "expected a JSON object");
  expect_error(c.Post(predict.c_str(), R"({"pints": [[1, 2]]})", kJson), 400, "pints: unknown field");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1, 2, 3]]})", kJson), 400, "points[0]");
  expect_error(c.Post(predict.c_str(), R"({"points": [["a", 2]]})", kJson), 400, "expected a number");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1, 2]], "labels": [1, 0]})", kJson), 400, "2 labels for 1 points");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1, 2]], "labels": [2]})", kJson), 400, "labels[0]");
  expect_error(c.Post(predict.c_str(), R"({"box": [10, 10, 5, 20]})", kJson), 400, "box");
  expect_error(c.Post(predict.c_str(), R"({"box": [1, 2, 3]})", kJson), 400, "box");
  expect_error(c.Post(predict.c_str(), R"({"multimask": "yes"})", kJson), 400, "multimask");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1,1],[2,2],[3,3],[4,4],[5,5]]})", kJson), 400, "limit of 4");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1e30, 2]]})", kJson), 400, "out of range");
  // 400: the image bytes.
  expect_error(c.Post("/v1/images", "", "image/png"), 400, "empty");
  expect_error(c.Post("/v1/images", "GIF89a this is not really an image", "image/gif"), 400, "image");
  std::string truncated = small.substr(0, small.size() / 2);
  expect_error(c.Post("/v1/images", truncated, "image/png"), 400, "image");
  // 404: unknown things.
  expect_error(c.Post("/v1/images/0123456789abcdef0123456789abcdef/predict", "{}", kJson), 404, "upload it again");
  expect_error(c.Post(predict.c_str(), R"({"points": [[1, 2]], "mask_input_id": "nope"})", kJson), 404, "mask_input_id");
  expect_error(c.Get("/v1/jobs/0000"), 404, "job");
  expect_error(c.Delete("/v1/jobs/0000"), 404, "job");
  expect_error(c.Get("/v1/nothing"), 404, "no such route");
  expect_error(c.Get("/../../etc/passwd"), 404);
  expect_error(c.Get("/index.html/../../../etc/passwd"), 404);
  // 405: known path, other method.
  expect_error(c.Get("/v1/images"), 405, "use POST");
  expect_error(c.Put(predict.c_str(), "{}", kJson), 405, "use POST");
  expect_error(c.Post("/v1/health", "", "text/plain"), 405, "use GET");
  expect_error(c.Post(("/v1/images/" + id).c_str(), "", "text/plain"), 405, "use GET, DELETE");
  // 413: too large a body, too many pixels.
  expect_error(c.Post("/v1/images", std::string((1 << 20) + 1, 'x'), "image/png"), 413);
  expect_error(c.Post("/v1/images", png(), "image/png"), 413, "limit of 50000");
  // A mask_input_id from another image.
  const std::string other = upload(c, solid_png(40, 30));
  auto r = c.Post(("/v1/images/" + other + "/predict").c_str(), R"({"points": [[5, 5]]})", kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  expect_error(c.Post(predict.c_str(), json{{"mask_input_id", body_of(r)["mask_input_id"]}}.dump(), kJson), 400,
               "another image");

  // 403: a page on another origin reaching the loopback server through DNS rebinding.
  expect_error(c.Get("/v1/health", {{"Host", "attacker.example:8080"}}), 403, "Host");
  auto ok = c.Get("/v1/health", {{"Host", "localhost:8080"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);

  // After all that, the server still answers.
  r = c.Post(predict.c_str(), R"({"points": [[10, 10]]})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ServerApi, EvictsLeastRecentlyUsedEmbeddings) {
  size_t one = 0;
  {
    test::TestServer probe;
    auto c = probe.client();
    upload(c, png());
    one = body_of(c.Get("/v1/health"))["cache"]["bytes"];
    ASSERT_GT(one, 32u * 16 * 16 * 4);
  }
  ServerOptions o;
  o.limits.cache_bytes = one * 2 + one / 2;  // room for two images
  test::TestServer s(o);
  auto c = s.client();
  const std::string a = upload(c, test::truck_png(1)), b = upload(c, test::truck_png(2));
  ASSERT_EQ(c.Get(("/v1/images/" + a).c_str())->status, 200);  // a is now the most recent
  const std::string d = upload(c, test::truck_png(3));             // evicts b
  json h = body_of(c.Get("/v1/health"));
  EXPECT_EQ(h["cache"]["entries"], 2);
  EXPECT_EQ(h["cache"]["evictions"], 1);
  EXPECT_LE(h["cache"]["bytes"].get<size_t>(), o.limits.cache_bytes);
  expect_error(c.Post(("/v1/images/" + b + "/predict").c_str(), "{}", kJson), 404, "evicted");
  EXPECT_EQ(c.Get(("/v1/images/" + a).c_str())->status, 200);
  EXPECT_EQ(c.Get(("/v1/images/" + d).c_str())->status, 200);
  auto again = c.Post("/v1/images", test::truck_png(2), "image/png");
  ASSERT_TRUE(again);
  EXPECT_EQ(body_of(again)["cached"], false);  // encoded anew
  EXPECT_EQ(body_of(again)["image_id"], b);
}

TEST_F(ServerApi, GenerateRunsAsAJobAndMatchesTheLibrary) {
  test::TestServer s;
  auto c = s.client();
  EXPECT_EQ(body_of(c.Get("/v1/model"))["generate"], true);
  const std::string id = upload(c, png());
  const json params{{"points_per_side", 8}, {"pred_iou_thresh", 0.0}, {"stability_score_thresh", 0.0}};
  auto r = c.Post(("/v1/images/" + id + "/generate").c_str(), params.dump(), kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job = body_of(r)["job_id"];
  json done = wait_for_job(c, job);
  ASSERT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["progress"], 1.0);
  r = c.Get(("/v1/jobs/" + job + "/result").c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;

  SamGeneratorParams p;
  p.points_per_side = 8;
  p.pred_iou_thresh = 0;
  p.stability_score_thresh = 0;
  SamMaskGenerator generator(test::tiny_sam(), p);
  auto records = generator.generate(decode_image(reinterpret_cast<const uint8_t*>(png().data()), png().size(), "truck"));
  EXPECT_EQ(json::parse(r->body), json::parse(mask_records_to_json(records, MaskOutputMode::CocoRle)));

  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), R"({"points_per_sde": 8})", kJson), 400, "points_per_sde");
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), R"({"points_per_side": -3})", kJson), 400, "points_per_side");
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), "{", kJson), 400, "JSON");
  expect_error(c.Post("/v1/images/0123456789abcdef0123456789abcdef/generate", "{}", kJson), 404);
}

// The server reads the generator's parameters from the library's table: every field by its
// upstream keyword, integers refused where a number is not whole.
TEST_F(ServerApi, GenerateTakesEveryParameterOfTheTable) {
  test::TestServer s;
  auto c = s.client();
  const std::string id = upload(c, png());
  const SamGeneratorParams defaults;
  json params = json::object();
  for (const auto& f : sam_generator_param_fields()) {
    if (f.int_member) params[f.name] = defaults.*f.int_member;
    else params[f.name] = defaults.*f.double_member;
  }
  params["points_per_side"] = 2;
  auto r = c.Post(("/v1/images/" + id + "/generate").c_str(), params.dump(), kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(wait_for_job(c, body_of(r)["job_id"])["state"], "done");
  for (const auto& f : sam_generator_param_fields()) {
    if (!f.int_member) continue;
    expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), json{{f.name, 1.5}}.dump(), kJson), 400,
                 std::string(f.name) + ": expected an integer");
  }
}

TEST_F(ServerApi, JobsAreLimitedAndCancellable) {
  ServerOptions o;
  o.limits.max_jobs = 1;
  test::TestServer s(o);
  auto c = s.client();
  const std::string id = upload(c, png());
  // A slow job: 10 000 points, one per batch (tens of seconds).
  const json slow{{"points_per_side", 100}, {"points_per_batch", 1}};
  auto r = c.Post(("/v1/images/" + id + "/generate").c_str(), slow.dump(), kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job = body_of(r)["job_id"];
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), slow.dump(), kJson), 429, "limit is 1");
  expect_error(c.Get(("/v1/jobs/" + job + "/result").c_str()), 409, "running");
  json running;
  for (int i = 0; i < 2000; ++i) {
    running = body_of(c.Get(("/v1/jobs/" + job).c_str()));
    if (running["progress"].get<double>() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(running["progress"].get<double>(), 0.0) << "progress moves while the job runs";
  EXPECT_LT(running["progress"].get<double>(), 1.0);
  r = c.Delete(("/v1/jobs/" + job).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["state"], "cancelled");
  expect_error(c.Get(("/v1/jobs/" + job + "/result").c_str()), 409, "cancelled");
  EXPECT_EQ(body_of(c.Get(("/v1/jobs/" + job).c_str()))["state"], "cancelled");
  // The cancelled work stops at its next batch and frees its slot: a new job is accepted.
  const json quick{{"points_per_side", 2}};
  int status = 0;
  for (int i = 0; i < 1000 && status != 202; ++i) {
    auto again = c.Post(("/v1/images/" + id + "/generate").c_str(), quick.dump(), kJson);
    ASSERT_TRUE(again);
    status = again->status;
    if (status != 202) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, 202) << "the cancelled job kept running";
}

#endif  // SEGKIT_WITH_SERVER
