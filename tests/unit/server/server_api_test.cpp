// segkit serve's HTTP API over loopback, with the tiny SAM: every route, every refusal, and
// many clients at once.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>

#include "segkit/rle.h"
#if __has_include("segkit/sam_generator.h")
#include "segkit/sam_generator.h"
#endif
#include "segkit/sam_output.h"
#include "server_test_util.h"

using namespace segkit;
using nlohmann::json;

namespace {

const char* kJson = "application/json";

json body_of(const httplib::Result& r) { return json::parse(r->body); }

// Every refusal is JSON {"error": "..."} with the given status.
void expect_error(const httplib::Result& r, int status, const std::string& fragment = "") {
  ASSERT_TRUE(r) << "no response: " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJson);
  json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << r->body;
  EXPECT_NE(j["error"].get<std::string>().find(fragment), std::string::npos) << r->body;
}

std::string upload(httplib::Client& c, const std::string& bytes) {
  auto r = c.Post("/v1/images", bytes, "image/png");
  if (!r || r->status != 200) throw std::runtime_error("upload failed: " + (r ? r->body : httplib::to_string(r.error())));
  return json::parse(r->body)["image_id"];
}

// What the library itself answers for this prompt on the truck image.
json reference_records(const SamPrompt& prompt, int variant = 0) {
  SamPredictor p(test::tiny_sam());
  Image img = decode_image(reinterpret_cast<const uint8_t*>(test::truck_png(variant).data()), test::truck_png(variant).size(), "truck");
  p.set_image(img);
  return json::parse(prediction_records_json(p.predict(prompt)));
}

std::string solid_png(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(size_t(w) * h * 3, 90);
  for (size_t i = 0; i < img.rgb.size(); i += 5) img.rgb[i] = uint8_t(i);
  auto b = encode_png(img.rgb.data(), w, h, 3);
  return std::string(b.begin(), b.end());
}

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { png_ = new std::string(test::truck_png()); }
  static void TearDownTestSuite() { delete png_; }
  static const std::string& png() { return *png_; }
  static std::string* png_;
};
std::string* ServerApi::png_ = nullptr;

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

// Bodies go through the JSON reader's limits: one nested far deeper than any request needs is
// refused as such (it used to be parsed whole, then refused as a wrong field).
TEST_F(ServerApi, RefusesDeeplyNestedBodies) {
  test::TestServer s;
  auto c = s.client();
  const std::string id = upload(c, solid_png(64, 48));
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error(c.Post(("/v1/images/" + id + "/predict").c_str(), "{\"points\": " + deep + "}", kJson), 400,
               "request body: JSON nested deeper than 32 levels");
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), "{\"points_per_side\": " + deep + "}", kJson), 400,
               "request body: JSON nested deeper than 32 levels");
  auto r = c.Post(("/v1/images/" + id + "/predict").c_str(), R"({"points": [[10, 10]]})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// Sends raw bytes and returns the raw response: for requests httplib's client will not make.
static std::string raw_request(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.find("\r\n\r\n") != std::string::npos && out.find("}") != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

TEST_F(ServerApi, ReadsBodiesWithinTheLimitHoweverTheyCome) {
  ServerOptions o;
  o.limits.max_body_bytes = 64 << 10;
  test::TestServer s(o);
  auto c = s.client();
  // Chunked: no Content-Length to check up front, so the limit applies while reading.
  auto r = c.Post(
      "/v1/images",
      [](size_t offset, httplib::DataSink& sink) {
        std::string chunk(4096, 'x');
        sink.write(chunk.data(), chunk.size());
        if (offset > (200 << 10)) sink.done();
        return true;
      },
      "image/png");
  expect_error(r, 413, "limit of 65536 bytes");
  // A small image, chunked, as a form (curl --data-binary's default type), and as multipart.
  const std::string small = solid_png(32, 32);
  std::string id;
  r = c.Post(
      "/v1/images",
      [&](size_t offset, httplib::DataSink& sink) {
        size_t n = std::min<size_t>(1000, small.size() - offset);
        sink.write(small.data() + offset, n);
        if (offset + n == small.size()) sink.done();
        return true;
      },
      "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  id = body_of(r)["image_id"];
  r = c.Post("/v1/images", small, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["image_id"], id);
  r = c.Post("/v1/images", httplib::MultipartFormDataItems{{"file", small, "small.png", "image/png"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["image_id"], id);
  // A POST without Content-Length has no body (HTTP/1.1): 411 at once rather than a wait.
  std::string raw = raw_request(s.port(), "POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 411", 0), 0u) << raw;
  EXPECT_NE(raw.find("Content-Length"), std::string::npos) << raw;
  // A request line that is not HTTP.
  raw = raw_request(s.port(), "HELLO\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 400", 0), 0u) << raw;
  auto h = s.client().Get("/v1/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST_F(ServerApi, ServesTheUiFromMemory) {
  test::TestServer s;
  auto c = s.client();
  auto r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("segkit"), std::string::npos);
  for (const char* path : {"/app.js", "/style.css"}) {
    r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_FALSE(r->body.empty()) << path;
  }
}

TEST_F(ServerApi, LogsOneLinePerRequest) {
  test::TestServer s;
  auto c = s.client();
  c.Get("/v1/health");
  c.Get("/v1/nothing");
  c.Post("/v1/images", "junk", "image/png");
  // A request is logged just after its response is sent: wait for the third line.
  auto requests = [&] {
    std::vector<std::string> out;
    for (const auto& line : s.log())
      if (line.rfind("segkit serve:", 0) != 0) out.push_back(line);
    return out;
  };
  for (int i = 0; i < 500 && requests().size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::vector<std::string> lines = requests();
  ASSERT_EQ(lines.size(), 3u);
  // Each handler thread logs after sending its response, so under load the lines of requests
  // sent one after another may land in either order: look for each, not at a position.
  for (const char* expected : {"GET /v1/health 200", "GET /v1/nothing 404", "POST /v1/images 400"})
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                            [&](const std::string& l) { return l.find(expected) != std::string::npos; }))
        << "no log line with '" << expected << "' in:\n" << lines[0] << "\n" << lines[1] << "\n" << lines[2];
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

TEST_F(ServerApi, ManyClientsAtOnce) {
  ServerOptions o;
  o.limits.mask_input_bytes = 40 * (256 * 256 * 4 / 16);  // small, so that it evicts under load
  test::TestServer s(o);
  const std::string id = [&] {
    auto c = s.client();
    return upload(c, png());
  }();
  // Reference answers for a few prompts.
  std::vector<json> want;
  for (int k = 0; k < 4; ++k) {
    SamPrompt p;
    p.points = {{30.f + 60 * k, 40.f + 30 * k}};
    p.labels = {1};
    want.push_back(reference_records(p));
  }
  std::atomic<int> failures{0}, ok{0}, transport_retries{0};
  std::vector<std::string> problems(16);
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t)
    clients.emplace_back([&, t] {
      auto c = s.client();
      for (int i = 0; i < 50; ++i) {
        const int k = (t + i) % 4;
        // Uploads of other images meanwhile: decoder requests must not fail behind them.
        const bool uploading = t == 0 && i % 10 == 0;
        json body{{"points", {{30.0 + 60 * k, 40.0 + 30 * k}}}, {"labels", {1}}};
        auto send = [&] {
          return uploading ? c.Post("/v1/images", test::truck_png(10 + i), "image/png")
                           : c.Post(("/v1/images/" + id + "/predict").c_str(), body.dump(), kJson);
        };
        httplib::Result r = send();
        // Known flake (about one run in four, httplib 0.11): a connection is closed before its
        // request is read, so the client sees a transport error and the server never logs it.
        // Such a request is sent once more and counted; every answer that arrives must be right.
        if (!r) {
          ++transport_retries;
          r = send();
        }
        if (r && r->status == 200) {
          if (uploading) {
            ++ok;
            continue;
          }
          json got = json::parse(r->body)["masks"];
          bool same = got.size() == want[k].size();
          for (size_t m = 0; same && m < got.size(); ++m) same = got[m]["segmentation"] == want[k][m]["segmentation"];
          if (same) {
            ++ok;
            continue;
          }
        }
        ++failures;
        problems[t] = std::string(uploading ? "upload " : "predict ") + std::to_string(i) + ": " +
                      (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : httplib::to_string(r.error()));
      }
    });
  for (auto& th : clients) th.join();
  for (const auto& p : problems) EXPECT_TRUE(p.empty()) << p;
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ok, 16 * 50);
  EXPECT_LE(transport_retries, 8) << "more than 1% of connections dropped";
  if (transport_retries > 0) std::printf("note: %d request(s) were sent twice after a transport error\n", transport_retries.load());
  json h = body_of(s.client().Get("/v1/health"));
  EXPECT_LE(h["mask_inputs"]["bytes"].get<size_t>(), o.limits.mask_input_bytes);
  EXPECT_GT(h["mask_inputs"]["evictions"].get<size_t>(), 0u);
}

#if !__has_include("segkit/sam_generator.h")
TEST_F(ServerApi, GenerateIsNotImplementedWithoutTheGenerator) {
  test::TestServer s;
  auto c = s.client();
  const std::string id = upload(c, png());
  expect_error(c.Post(("/v1/images/" + id + "/generate").c_str(), "{}", kJson), 501, "not available");
  EXPECT_EQ(body_of(c.Get("/v1/model"))["generate"], false);
}
#endif
#if __has_include("segkit/sam_generator.h")
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
#endif

#endif  // SEGKIT_WITH_SERVER
