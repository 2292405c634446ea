#pragma once
// `segkit serve` as a library: an HTTP API over a SAM model, SAM 3 and Mask2Former models, plus
// the browser UI, served from memory (no request ever touches the file system).
//
//   segkit::ServerOptions options;            // loopback, port 8080
//   segkit::SegmentServer server(segkit::SamModel::load("facebook/sam-vit-base"), options);
//   server.bind();                             // Error when the address is taken
//   server.run();                              // until stop() from another thread or a signal
//
// Several models at once, each addressed by its name in the API:
//   segkit::SegmentServer server({{"sam", sam}, {"coco", mask2former}}, options);
//
// The routes are documented in docs/server.md.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <vector>

#include "segkit/model.h"
#include "segkit/sam.h"

namespace segkit {

struct ServerLimits {
  size_t max_body_bytes = size_t(64) << 20;  // any request body (uploads): larger is 413
  int64_t max_image_pixels = 40'000'000;     // decoded width×height: larger is 413
  int max_points = 64;                       // points in one predict request: more is 400
  int max_jobs = 2;                          // generate jobs running at once: more is 429
  size_t cache_bytes = size_t(2048) << 20;   // embeddings (and their uploads) kept, LRU
  size_t mask_input_bytes = size_t(64) << 20;  // low-res logits kept for mask_input_id, LRU
  size_t max_pending_encodes = 16;           // uploads waiting for the encoder: more is 503
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;                 // 0 = any free port (see bound_port())
  int http_threads = 16;           // connections served at once
  ServerLimits limits;
  // One line per request (and a few lifecycle lines); default: stderr. Empty function = silent.
  std::function<void(const std::string&)> log = default_log();
  static std::function<void(const std::string&)> default_log();
};

// A model and the name requests use for it.
struct HostedModel {
  std::string name;
  std::shared_ptr<const Model> model;  // a SamModel, Sam3Model or Mask2FormerModel
};

// The short name `segkit serve` gives a model source: the last component of a folder, repo id
// or file, without a weights file's extension ("facebook/sam-vit-base" → "sam-vit-base",
// "ckpt/sam_vit_b.pth" → "sam_vit_b").
std::string model_name_from_source(const std::string& source);

class SegmentServer {
 public:
  // One SAM model, named "sam".
  SegmentServer(std::shared_ptr<const SamModel> model, ServerOptions options);
  // Error for no models, an empty or repeated name, more than one SAM model, or a family the
  // server cannot host (it hosts SAM, SAM 3 and Mask2Former).
  SegmentServer(std::vector<HostedModel> models, ServerOptions options);
  ~SegmentServer();  // stops and waits for running work
  SegmentServer(const SegmentServer&) = delete;
  SegmentServer& operator=(const SegmentServer&) = delete;

  // Error "host:port: cannot listen" when binding fails. Returns the bound port.
  int bind();
  // Serves until stop(); returns after in-flight requests are answered and jobs are cancelled.
  void run();
  // From any thread (not from a signal handler); idempotent.
  void stop();
  int bound_port() const;
  std::string url() const;  // http://host:port

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
