// SegmentServer: `segkit serve` as a library, the SAM, SAM 3 and Mask2Former services' routes (and the
// list of hosted models) on the HTTP app.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/mask2former.h"
#include "segkit/sam3.h"
#include "segkit/server.h"
#include "server/embedding_store.h"
#include "server/http_app.h"
#include "server/jobs.h"
#include "server/mask2former_service.h"
#include "server/sam3_service.h"
#include "server/sam_service.h"

namespace segkit {

std::function<void(const std::string&)> ServerOptions::default_log() {
  return [](const std::string& line) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    std::cerr << line << std::endl;
  };
}

std::string model_name_from_source(const std::string& source) {
  std::string s = source;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  s = s.substr(s.find_last_of('/') == std::string::npos ? 0 : s.find_last_of('/') + 1);
  for (const char* ext : {".safetensors", ".pth", ".pt", ".bin"}) {
    const std::string e = ext;
    if (s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0) s.resize(s.size() - e.size());
  }
  // Names travel in JSON and URLs: anything unusual becomes '-'.
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  return s.empty() ? "model" : s;
}

namespace {

// The models by family, checked once: the services below trust what they are given.
struct HostedModels {
  std::vector<HostedModel> all;
  std::shared_ptr<const SamModel> sam;
  std::vector<server::NamedMask2Former> mask2former;
  std::vector<server::NamedSam3> sam3;

  explicit HostedModels(std::vector<HostedModel> models) : all(std::move(models)) {
    if (all.empty()) throw Error("serve: no model to serve");
    for (size_t i = 0; i < all.size(); ++i) {
      const HostedModel& m = all[i];
      if (m.name.empty()) throw Error("serve: a model has an empty name");
      for (size_t k = 0; k < i; ++k)
        if (all[k].name == m.name)
          throw Error("serve: two models are named " + m.name + "; name them with NAME=SOURCE");
      if (auto s = std::dynamic_pointer_cast<const SamModel>(m.model)) {
        if (sam) throw Error("serve: " + m.name + ": one SAM model per server (the SAM routes have no model field)");
        sam = s;
      } else if (auto f = std::dynamic_pointer_cast<const Mask2FormerModel>(m.model)) {
        mask2former.push_back({m.name, f});
      } else if (auto t = std::dynamic_pointer_cast<const Sam3Model>(m.model)) {
        sam3.push_back({m.name, t});
      } else {
        throw Error("serve: " + m.name + ": a " + (m.model ? m.model->family() : std::string("missing")) +
                    " model; the server hosts SAM, SAM 3 and Mask2Former models");
      }
    }
  }

  // The names of the models not of `family`.
  std::vector<std::string> names_but(const std::string& family) const {
    std::vector<std::string> names;
    for (const auto& m : all)
      if (m.model->family() != family) names.push_back(m.name);
    return names;
  }

  // GET /v1/models: every hosted model, in the order given.
  nlohmann::json describe() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : all) {
      nlohmann::json j{{"name", m.name}, {"family", m.model->family()}};
      if (auto s = std::dynamic_pointer_cast<const SamModel>(m.model)) {
        j["description"] = s->config().describe();
        j["precision"] = s->precision() == Precision::Bf16 ? "bfloat16" : "float32";
        j["routes"] = {"predict", "generate"};
      } else if (auto f = std::dynamic_pointer_cast<const Mask2FormerModel>(m.model)) {
        j["description"] = f->config().describe();
        j["precision"] = f->precision() == Precision::Bf16 ? "bfloat16" : "float32";
        j["routes"] = {"segment"};
        j["tasks"] = {"semantic", "instance", "panoptic"};
        j["labels"] = f->labels();
      } else if (auto t = std::dynamic_pointer_cast<const Sam3Model>(m.model)) {
        j["description"] = t->info().architecture;
        j["precision"] = "float32";
        j["routes"] = {"predict"};
        j["prompts"] = {"text", "boxes"};
      }
      list.push_back(std::move(j));
    }
    return {{"models", list}};
  }
};

}  // namespace

struct SegmentServer::Impl {
  ServerOptions options;
  HostedModels models;
  server::EmbeddingStore store;
  server::JobRegistry jobs;
  server::SamService sam;
  server::Mask2FormerService mask2former;
  server::Sam3Service sam3;
  server::HttpApp app;
  int port = -1;
  std::atomic<bool> stopped{false};

  Impl(std::vector<HostedModel> hosted, ServerOptions o)
      : options(std::move(o)),
        models(std::move(hosted)),
        store(models.sam, server::StoreLimits{options.limits.cache_bytes, options.limits.max_image_pixels,
                                              options.limits.max_pending_encodes}),
        jobs(options.limits.max_jobs),
        sam(models.sam, options.limits, store, jobs),
        mask2former(models.mask2former, models.names_but("mask2former"), options.limits, store, jobs),
        sam3(models.sam3, models.names_but("sam3"), options.limits, store, jobs),
        app(server::HttpAppOptions{options.host, options.http_threads, options.limits.max_body_bytes, options.log}, routes()) {}

  std::vector<server::Route> routes() {
    std::vector<server::Route> all = sam.routes();
    // predict serves SAM's prompts and SAM 3's words: a body with "text", or naming a SAM 3
    // model, or any body on a server without SAM, goes to SAM 3.
    for (server::Route& r : all) {
      if (std::string(r.method) != "POST" || r.path.find("/predict") == std::string::npos) continue;
      r.handle = [this, sam_predict = r.handle](const httplib::Request& req, httplib::Response& res,
                                                const std::string& body) {
        if (sam3.wants(body) || (!models.sam && sam3.hosts_any())) sam3.predict(req, res, body);
        else sam_predict(req, res, body);
      };
    }
    for (auto& r : mask2former.routes()) all.push_back(std::move(r));
    const nlohmann::json list = models.describe();
    all.push_back({"GET", "/v1/models",
                   [list](const httplib::Request&, httplib::Response& res, const std::string&) { server::send_json(res, list); }});
    return all;
  }

  // Uploads waiting for the encoder and running jobs end, so that no HTTP thread waits on them.
  void shutdown() {
    store.shutdown();
    jobs.shutdown();
  }

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }
};

SegmentServer::SegmentServer(std::shared_ptr<const SamModel> model, ServerOptions options)
    : SegmentServer(std::vector<HostedModel>{{"sam", std::move(model)}}, std::move(options)) {}

SegmentServer::SegmentServer(std::vector<HostedModel> models, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(models), std::move(options))) {}

SegmentServer::~SegmentServer() {
  stop();
  impl_->shutdown();
}

int SegmentServer::bind() { return impl_->port = impl_->app.bind(impl_->options.port); }

void SegmentServer::run() {
  if (impl_->port < 0) bind();
  if (!impl_->stopped) impl_->log("segkit serve: listening on " + url());
  impl_->app.run();
  impl_->shutdown();
  impl_->log("segkit serve: stopped");
}

void SegmentServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  // Uploads waiting for the encoder and running jobs end first, so that the HTTP threads the
  // listener waits for are not stuck behind them.
  impl_->shutdown();
  impl_->app.stop();
}

int SegmentServer::bound_port() const { return impl_->port; }

std::string SegmentServer::url() const {
  const std::string& h = impl_->options.host;
  bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port);
}

}  // namespace segkit
