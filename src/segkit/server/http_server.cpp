// SegmentServer: `segkit serve` as a library, the SAM service's routes on the HTTP app.
#include <atomic>
#include <iostream>
#include <mutex>

#include "segkit/server.h"
#include "server/http_app.h"
#include "server/sam_service.h"

namespace segkit {

std::function<void(const std::string&)> ServerOptions::default_log() {
  return [](const std::string& line) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    std::cerr << line << std::endl;
  };
}

struct SegmentServer::Impl {
  ServerOptions options;
  server::SamService service;
  server::HttpApp app;
  int port = -1;
  std::atomic<bool> stopped{false};

  Impl(std::shared_ptr<const SamModel> model, ServerOptions o)
      : options(std::move(o)),
        service(std::move(model), options.limits),
        app(server::HttpAppOptions{options.host, options.http_threads, options.limits.max_body_bytes, options.log},
            service.routes()) {}

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }
};

SegmentServer::SegmentServer(std::shared_ptr<const SamModel> model, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(options))) {}

SegmentServer::~SegmentServer() {
  stop();
  impl_->service.shutdown();
}

int SegmentServer::bind() { return impl_->port = impl_->app.bind(impl_->options.port); }

void SegmentServer::run() {
  if (impl_->port < 0) bind();
  if (!impl_->stopped) impl_->log("segkit serve: listening on " + url());
  impl_->app.run();
  impl_->service.shutdown();
  impl_->log("segkit serve: stopped");
}

void SegmentServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  // Uploads waiting for the encoder and running jobs end first, so that the HTTP threads the
  // listener waits for are not stuck behind them.
  impl_->service.shutdown();
  impl_->app.stop();
}

int SegmentServer::bound_port() const { return impl_->port; }

std::string SegmentServer::url() const {
  const std::string& h = impl_->options.host;
  bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port);
}

}  // namespace segkit
