// Decoder round trip over HTTP (POST /v1/images/{id}/predict, one click, cached embedding) at
// 1 and 8 concurrent clients, against the same decode in process. Prints JSON lines.
//   bench_server MODEL [IMAGE] [--requests N]
// The goal: HTTP median at 1 client within 2x of the in-process decoder.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "segkit/error.h"
#include "segkit/sam.h"
#include "segkit/server.h"

using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double median_ms = 0, p99_ms = 0, mean_ms = 0;
};

Stats stats_of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Stats s;
  s.median_ms = ms[ms.size() / 2];
  s.p99_ms = ms[std::min(ms.size() - 1, static_cast<size_t>(0.99 * ms.size()))];
  for (double v : ms) s.mean_ms += v / ms.size();
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) segkit::fail(path, "cannot read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A synthetic 1024×768 picture when no image is given: gradients and a few blocks.
std::string synthetic_png() {
  segkit::Image img;
  img.width = 1024;
  img.height = 768;
  img.rgb.resize(size_t(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      uint8_t* p = img.rgb.data() + (size_t(y) * img.width + x) * 3;
      bool block = (x / 200 + y / 200) % 3 == 0;
      p[0] = uint8_t(block ? 220 : x / 4);
      p[1] = uint8_t(block ? 40 : y / 3);
      p[2] = uint8_t(block ? 60 : 128);
    }
  auto png = segkit::encode_png(img.rgb.data(), img.width, img.height, 3);
  return std::string(png.begin(), png.end());
}

}  // namespace

int main(int argc, char** argv) try {
  std::string model_path, image_path;
  int requests = 200;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--requests") && i + 1 < argc) requests = std::max(10, std::atoi(argv[++i]));
    else if (model_path.empty()) model_path = argv[i];
    else image_path = argv[i];
  }
  if (model_path.empty()) {
    std::cerr << "usage: bench_server MODEL [IMAGE] [--requests N]\n";
    return 2;
  }
  segkit::LoadOptions quiet;
  quiet.warn_unused = false;
  auto model = segkit::SamModel::load(model_path, quiet);
  const std::string bytes = image_path.empty() ? synthetic_png() : read_all(image_path);
  segkit::Image image = segkit::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "image");
  const float cx = image.width * 0.5f, cy = image.height * 0.5f;

  // In process: what the server does per request (a predictor from the cached embedding, one
  // point, three masks) minus HTTP and JSON.
  segkit::SamPredictor encoder(model);
  encoder.set_image(image);
  const segkit::SamEmbedding embedding = encoder.embedding();
  segkit::SamPrompt prompt;
  prompt.points = {{cx, cy}};
  prompt.labels = {1};
  std::vector<double> local;
  for (int i = 0; i < requests; ++i) {
    auto t0 = Clock::now();
    segkit::SamPredictor p(model);
    p.set_embedding(embedding);
    auto out = p.predict(prompt);
    local.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (out.num_masks != 3) throw segkit::Error("unexpected mask count");
  }
  Stats in_process = stats_of(local);
  nlohmann::json base{{"bench", "server_decoder"},
                      {"model", model->config().describe()},
                      {"image", image_path.empty() ? "synthetic 1024x768" : image_path},
                      {"threads", std::thread::hardware_concurrency()}};
  {
    nlohmann::json j = base;
    j["mode"] = "in_process";
    j["requests"] = requests;
    j["median_ms"] = in_process.median_ms;
    j["p99_ms"] = in_process.p99_ms;
    std::cout << j.dump() << std::endl;
  }

  segkit::ServerOptions options;
  options.port = 0;
  options.log = nullptr;
  segkit::SegmentServer server(model, options);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });
  std::string id;
  {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(600);
    auto r = c.Post("/v1/images", bytes, "application/octet-stream");
    if (!r || r->status != 200) throw segkit::Error("upload failed");
    id = nlohmann::json::parse(r->body)["image_id"];
  }
  const std::string path = "/v1/images/" + id + "/predict";
  const std::string body = nlohmann::json{{"points", {{cx, cy}}}, {"labels", {1}}}.dump();

  for (int clients : {1, 8}) {
    std::vector<std::vector<double>> per(clients);
    std::atomic<int> errors{0};
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
      threads.emplace_back([&, t] {
        httplib::Client c("127.0.0.1", port);
        c.set_keep_alive(true);
        c.set_tcp_nodelay(true);
        c.set_read_timeout(600);
        for (int i = 0; i < requests; ++i) {
          auto s = Clock::now();
          auto r = c.Post(path.c_str(), body, "application/json");
          per[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
          if (!r || r->status != 200) ++errors;
        }
      });
    for (auto& th : threads) th.join();
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    Stats http = stats_of(all);
    nlohmann::json j = base;
    j["mode"] = "http";
    j["clients"] = clients;
    j["requests"] = all.size();
    j["errors"] = errors.load();
    j["median_ms"] = http.median_ms;
    j["p99_ms"] = http.p99_ms;
    j["throughput_rps"] = all.size() / wall;
    j["median_vs_in_process"] = http.median_ms / in_process.median_ms;
    std::cout << j.dump() << std::endl;
  }
  server.stop();
  serving.join();
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_server: " << e.what() << "\n";
  return 1;
}
