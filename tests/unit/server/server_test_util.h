#pragma once
// An in-process `segkit serve` on a free loopback port, with the tiny SAM, and what the API
// tests share: JSON bodies and refusals, uploads, raw requests, the ServerApi fixture.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sam_fixtures.h"
#include "segkit/image.h"
#include "segkit/sam.h"
#include "segkit/sam_output.h"
#include "segkit/server.h"

namespace segkit::test {

inline std::shared_ptr<const SamModel> tiny_sam() {
  static auto model = SamModel::load(sam_tiny_hf(), quiet_load_options());
  return model;
}

// The truck case image (300×200) as PNG bytes; `variant` > 0 changes a few pixels, giving a
// different image (and content hash) of the same size.
inline std::string truck_png(int variant = 0) {
  Image img = sam_case_image(*sam_case_file("truck_small"));
  for (int i = 0; i < variant; ++i) img.rgb[static_cast<size_t>(i) * 7] ^= 0x55;
  auto png = encode_png(img.rgb.data(), img.width, img.height, 3);
  return std::string(png.begin(), png.end());
}

class TestServer {
 public:
  // `models` empty: the tiny SAM alone, through the single-model constructor.
  explicit TestServer(ServerOptions options = {}, std::vector<HostedModel> models = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    static const bool echo = std::getenv("SEGKIT_TEST_SERVER_LOG") != nullptr;  // for debugging
    options.log = [this](const std::string& line) {
      if (echo) std::fprintf(stderr, "%s\n", line.c_str());
      std::lock_guard<std::mutex> lock(mutex_);
      log_.push_back(line);
    };
    server_ = models.empty() ? std::make_unique<SegmentServer>(tiny_sam(), options)
                             : std::make_unique<SegmentServer>(std::move(models), options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    return c;
  }
  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  SegmentServer& server() { return *server_; }

 private:
  std::unique_ptr<SegmentServer> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> log_;
};

inline const char* kJson = "application/json";

inline nlohmann::json body_of(const httplib::Result& r) { return nlohmann::json::parse(r->body); }


// Every refusal is JSON {"error": "..."} with the given status.
inline void expect_error(const httplib::Result& r, int status, const std::string& fragment = "") {
  ASSERT_TRUE(r) << "no response: " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJson);
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << r->body;
  EXPECT_NE(j["error"].get<std::string>().find(fragment), std::string::npos) << r->body;
}

inline std::string upload(httplib::Client& c, const std::string& bytes) {
  auto r = c.Post("/v1/images", bytes, "image/png");
  if (!r || r->status != 200) throw std::runtime_error("upload failed: " + (r ? r->body : httplib::to_string(r.error())));
  return nlohmann::json::parse(r->body)["image_id"];
}

// What the library itself answers for this prompt on the truck image.
inline nlohmann::json reference_records(const SamPrompt& prompt, int variant = 0) {
  SamPredictor p(tiny_sam());
  Image img = decode_image(reinterpret_cast<const uint8_t*>(truck_png(variant).data()), truck_png(variant).size(), "truck");
  p.set_image(img);
  return nlohmann::json::parse(prediction_records_json(p.predict(prompt)));
}

inline std::string solid_png(int w, int h) {
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
  static void SetUpTestSuite() { png_ = new std::string(truck_png()); }
  static void TearDownTestSuite() { delete png_; }
  static const std::string& png() { return *png_; }
  inline static std::string* png_ = nullptr;
};


// Sends raw bytes and returns the raw response: for requests httplib's client will not make.
inline std::string raw_request(int port, const std::string& bytes) {
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

}  // namespace segkit::test
