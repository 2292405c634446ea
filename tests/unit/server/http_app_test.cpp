// segkit serve's HTTP handling over loopback (server/http_app): bodies however they come, the
// JSON reader's limits, the UI from memory, the request log, many clients at once.
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

#endif  // SEGKIT_WITH_SERVER
