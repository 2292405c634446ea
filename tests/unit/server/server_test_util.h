#pragma once
// An in-process `segkit serve` on a free loopback port, with the tiny SAM, for the API tests.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sam_fixtures.h"
#include "segkit/image.h"
#include "segkit/sam.h"
#include "segkit/server.h"

namespace segkit::test {

inline std::shared_ptr<const SamModel> tiny_sam() {
  static auto model = SamModel::load(sam_tiny_hf(), SamLoadOptions{false});
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
  explicit TestServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    static const bool echo = std::getenv("SEGKIT_TEST_SERVER_LOG") != nullptr;  // for debugging
    options.log = [this](const std::string& line) {
      if (echo) std::fprintf(stderr, "%s\n", line.c_str());
      std::lock_guard<std::mutex> lock(mutex_);
      log_.push_back(line);
    };
    server_ = std::make_unique<SegmentServer>(tiny_sam(), options);
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

}  // namespace segkit::test
