// SegmentServer: the HTTP routes of `segkit serve` over one SAM model (see docs/server.md).
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "core/json_read.h"
#include "segkit/error.h"
#include "segkit/sam_output.h"
#include "segkit/server.h"
#include "server/embedding_store.h"
#include "server/http_error.h"
#include "server/jobs.h"
#include "server/predict_request.h"
#include "server/request_json.h"
#include "server/web_assets.h"

#if __has_include("segkit/sam_generator.h")
#include "segkit/sam_generator.h"
#define SEGKIT_SERVER_HAS_GENERATOR 1
#else
#define SEGKIT_SERVER_HAS_GENERATOR 0
#endif

namespace segkit {

using nlohmann::json;
using server::HttpError;

std::function<void(const std::string&)> ServerOptions::default_log() {
  return [](const std::string& line) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    std::cerr << line << std::endl;
  };
}

namespace {

const char* kJson = "application/json";

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", message}}.dump(), kJson);
}

std::string random_hex(int digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < digits; ++i) s.push_back(hex[rng() & 15]);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "bad request";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout";
    case 411: return "send the body with a Content-Length";
    case 413: return "request body too large";
    case 414: return "request URI too long";
    case 416: return "range not satisfiable";
    default: return status >= 500 ? "internal server error" : "request refused";
  }
}

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// The Host header's name (no port) is one of this machine's loopback names; an absent Host
// (HTTP/1.0 tools) is allowed.
bool host_is_local(const std::string& header) {
  if (header.empty()) return true;
  std::string name = header;
  if (name.front() == '[') {
    name = name.substr(0, name.find(']') + 1);
  } else if (auto colon = name.find(':'); colon != std::string::npos) {
    name = name.substr(0, colon);
  }
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name == "127.0.0.1" || name == "localhost" || name == "[::1]";
}

struct MaskInput {
  std::string image_id;
  std::vector<float> logits;  // low_res × low_res
};

#if SEGKIT_SERVER_HAS_GENERATOR
SamGeneratorParams parse_generator_params(const std::string& body) {
  SamGeneratorParams p;
  const json j = server::parse_request_json(body);
  if (!j.is_object()) throw HttpError(400, "request body: expected a JSON object of generator parameters");
  auto number = [&](const std::string& key, const json& v) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) throw HttpError(400, key + ": expected a number");
    return v.get<double>();
  };
  auto integer = [&](const std::string& key, const json& v) {
    if (!v.is_number_integer() || std::llabs(v.get<int64_t>()) > 1'000'000) throw HttpError(400, key + ": expected an integer");
    return static_cast<int>(v.get<int64_t>());
  };
  const auto& fields = sam_generator_param_fields();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    auto field = std::find_if(fields.begin(), fields.end(), [&](const SamGeneratorParamField& f) { return k == f.name; });
    if (field == fields.end()) throw HttpError(400, k + ": unknown generator parameter");
    if (field->int_member) p.*field->int_member = integer(k, it.value());
    else p.*field->double_member = number(k, it.value());
  }
  // Bounds that keep one request from occupying the server for hours.
  if (p.points_per_side > 128) throw HttpError(400, "points_per_side: at most 128 on this server");
  if (p.crop_n_layers > 3) throw HttpError(400, "crop_n_layers: at most 3 on this server");
  try {
    p.validate();
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
  return p;
}
#endif

}  // namespace

struct SegmentServer::Impl {
  std::shared_ptr<const SamModel> model;
  ServerOptions options;
  server::EmbeddingStore store;
  server::LruCache<MaskInput> mask_inputs;
  server::JobRegistry jobs;
  httplib::Server http;
  int port = -1;
  std::atomic<bool> stopped{false};
  std::atomic<bool> in_run{false};
  bool loopback_only = false;

  Impl(std::shared_ptr<const SamModel> m, ServerOptions o)
      : model(std::move(m)),
        options(std::move(o)),
        store(model, server::StoreLimits{options.limits.cache_bytes, options.limits.max_image_pixels,
                                         options.limits.max_pending_encodes}),
        mask_inputs(options.limits.mask_input_bytes),
        jobs(options.limits.max_jobs),
        loopback_only(is_loopback(options.host)) {
    setup();
  }

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  // Every handler runs through here: library errors become JSON with the right status.
  template <typename F>
  void answer(const httplib::Request& req, httplib::Response& res, F&& f) {
    try {
      // On loopback, only pages from this machine's own names may call us: a foreign Host is
      // a web page using DNS rebinding to reach a local server.
      if (loopback_only && !host_is_local(req.get_header_value("Host")))
        throw HttpError(403, "Host " + req.get_header_value("Host") + " is not this server's (use 127.0.0.1 or localhost)");
      f();
    } catch (const HttpError& e) {
      send_error(res, e.status(), e.what());
    } catch (const Error& e) {
      send_error(res, 400, e.what());
    } catch (const std::bad_alloc&) {
      send_error(res, 503, "out of memory");
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
  }

  using BodyHandler = std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;

  httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> f) {
    return [this, f](const httplib::Request& req, httplib::Response& res) { answer(req, res, [&] { f(req, res); }); };
  }

  // Routes with a body read it here rather than through httplib's own reading, which would
  // parse form-encoded bodies (8 KiB limit) and take chunked bodies of any size. A multipart
  // upload (curl -F, an HTML form) gives its first part.
  httplib::Server::HandlerWithContentReader with_body(BodyHandler f) {
    return [this, f](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      answer(req, res, [&] {
        const size_t limit = options.limits.max_body_bytes;
        std::string body;
        bool too_large = false;
        auto append = [&](const char* data, size_t n) {
          if (body.size() + n > limit) {
            too_large = true;
            return false;
          }
          body.append(data, n);
          return true;
        };
        bool ok;
        if (req.is_multipart_form_data()) {
          int parts = 0;
          ok = reader([&](const httplib::MultipartFormData&) { return ++parts > 0; },
                      [&](const char* data, size_t n) { return parts == 1 ? append(data, n) : true; });
        } else {
          ok = reader(append);
        }
        if (too_large || res.status == 413) {
          res.set_header("Connection", "close");
          throw HttpError(413, "request body is larger than the limit of " + std::to_string(limit) + " bytes");
        }
        if (!ok) {
          res.set_header("Connection", "close");
          throw HttpError(400, "could not read the request body");
        }
        res.status = -1;
        f(req, res, body);
      });
    };
  }

  std::shared_ptr<const server::StoredImage> image_or_404(const std::string& id) {
    auto img = store.find(id);
    if (!img) throw HttpError(404, "image " + id + " is not in the cache (unknown, or evicted): upload it again");
    return img;
  }

  // The API, one row per route: registration and the 405 answers (a known path asked with
  // another method) both come from here. Groups in a path are req.matches; GET gets no body.
  struct Route {
    const char* method;  // GET, POST or DELETE
    const char* path;    // a regex over the whole path
    BodyHandler handle;
  };
  std::vector<Route> routes() {
    using Req = httplib::Request;
    using Res = httplib::Response;
    using Body = std::string;
    return {
        {"GET", "/v1/health", [this](const Req&, Res& res, const Body&) { health(res); }},
        {"GET", "/v1/model", [this](const Req&, Res& res, const Body&) { describe_model(res); }},
        {"POST", "/v1/images", [this](const Req&, Res& res, const Body& body) { upload(body, res); }},
        {"GET", R"(/v1/images/([^/]+))",
         [this](const Req& req, Res& res, const Body&) {
           auto img = image_or_404(req.matches[1]);
           send_json(res, {{"image_id", img->id}, {"width", img->width}, {"height", img->height}});
         }},
        {"DELETE", R"(/v1/images/([^/]+))",
         [this](const Req& req, Res& res, const Body&) {
           if (!store.erase(req.matches[1])) throw HttpError(404, "image " + std::string(req.matches[1]) + " is not in the cache");
           send_json(res, {{"deleted", std::string(req.matches[1])}});
         }},
        {"POST", R"(/v1/images/([^/]+)/predict)", [this](const Req& req, Res& res, const Body& body) { predict(req, res, body); }},
        {"POST", R"(/v1/images/([^/]+)/generate)", [this](const Req& req, Res& res, const Body& body) { generate(req, res, body); }},
        {"GET", R"(/v1/jobs/([^/]+))",
         [this](const Req& req, Res& res, const Body&) { send_json(res, job_json(job_or_404(req.matches[1]))); }},
        {"DELETE", R"(/v1/jobs/([^/]+))",
         [this](const Req& req, Res& res, const Body&) {
           std::string id = req.matches[1];
           if (!jobs.cancel(id)) throw HttpError(404, "job " + id + " is unknown (or finished long ago)");
           send_json(res, job_json(job_or_404(id)));
         }},
        {"GET", R"(/v1/jobs/([^/]+)/result)",
         [this](const Req& req, Res& res, const Body&) {
           auto job = job_or_404(req.matches[1]);
           if (job.state != server::JobState::Done)
             throw HttpError(409, "job " + job.id + " is " + server::job_state_name(job.state) + ", it has no result");
           res.status = 200;
           res.set_content(*job.result, kJson);
         }},
    };
  }

  struct KnownPath {
    std::string path;
    std::regex pattern;
    std::string methods;  // "GET, DELETE"
  };
  std::vector<KnownPath> known_paths;  // filled by setup() from routes()

  void setup() {
    const int threads = std::max(1, options.http_threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(options.limits.max_body_bytes);
    http.set_keep_alive_max_count(1000);
    http.set_tcp_nodelay(true);  // headers and body go out in separate writes: no Nagle stall between them
    http.set_read_timeout(30);
    http.set_write_timeout(30);

    static thread_local std::chrono::steady_clock::time_point request_start;
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      // HTTP says such a request has no body; httplib would wait for one until the connection closes.
      if ((req.method == "POST" || req.method == "PUT" || req.method == "PATCH") && !req.has_header("Content-Length") &&
          !req.has_header("Transfer-Encoding")) {
        send_error(res, 411, req.method + " needs a Content-Length (0 for no body)");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - request_start).count();
      if (ms > 1e7 || ms < 0) ms = 0;  // no pre-routing (request line refused): no start time
      // The path is decoded: keep control characters (a newline) from splitting the line.
      std::string path = req.path.substr(0, 300);
      for (char& ch : path)
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
      char line[640];
      std::snprintf(line, sizeof line, "%s %s %s %d %zuB %.1fms", req.remote_addr.c_str(), req.method.c_str(), path.c_str(),
                    res.status, res.body.size(), ms);
      log(line);
    });
    const size_t body_limit = options.limits.max_body_bytes;
    http.set_error_handler(httplib::Server::HandlerWithResponse([body_limit](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;
      if (res.status == 413)
        send_error(res, 413, "request body is larger than the limit of " + std::to_string(body_limit) + " bytes");
      else
        send_error(res, res.status, reason(res.status));
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, 500, "internal error");
    });

    for (const Route& route : routes()) {
      const std::string method = route.method;
      if (method == "GET") {
        http.Get(route.path, guarded([handle = route.handle](const httplib::Request& req, httplib::Response& res) {
                   handle(req, res, std::string());
                 }));
      } else if (method == "POST") {
        http.Post(route.path, with_body(route.handle));
      } else {
        // DELETE routes read a body too (httplib hands a DELETE with a Content-Length to body readers first).
        http.Delete(route.path, with_body(route.handle));
      }
      auto known = std::find_if(known_paths.begin(), known_paths.end(), [&](const KnownPath& k) { return k.path == route.path; });
      if (known == known_paths.end()) known_paths.push_back({route.path, std::regex(route.path), method});
      else known->methods += ", " + method;
    }

    // The UI, from memory; then 404 or 405 for everything else.
    http.Get(".*", guarded([this](const httplib::Request& req, httplib::Response& res) {
               if (const auto* asset = server::find_web_asset(req.path)) {
                 res.status = 200;
                 res.set_content(asset->body.data(), asset->body.size(), std::string(asset->content_type));
                 res.set_header("Cache-Control", "no-cache");
                 return;
               }
               not_routed(req);
             }));
    auto fallback = with_body([this](const httplib::Request& req, httplib::Response&, const std::string&) { not_routed(req); });
    http.Post(".*", fallback);
    http.Put(".*", fallback);
    http.Patch(".*", fallback);
    http.Delete(".*", fallback);
  }

  [[noreturn]] void not_routed(const httplib::Request& req) {
    for (const auto& k : known_paths)
      if (std::regex_match(req.path, k.pattern)) throw HttpError(405, req.method + " " + req.path + ": use " + k.methods);
    throw HttpError(404, req.path + ": no such route (see GET /v1/model, POST /v1/images)");
  }

  void health(httplib::Response& res) {
    auto c = store.stats();
    auto m = mask_inputs.stats();
    send_json(res, {{"status", "ok"},
                    {"cache", {{"entries", c.entries}, {"bytes", c.bytes}, {"capacity_bytes", c.capacity_bytes},
                               {"hits", c.hits}, {"misses", c.misses}, {"evictions", c.evictions}}},
                    {"mask_inputs", {{"entries", m.entries}, {"bytes", m.bytes}, {"evictions", m.evictions}}},
                    {"pending_encodes", store.pending_encodes()},
                    {"jobs_running", jobs.running()}});
  }

  void describe_model(httplib::Response& res) {
    const SamConfig& c = model->config();
    const ServerLimits& l = options.limits;
    send_json(res, {{"architecture", "sam"},
                    {"description", c.describe()},
                    {"image_size", c.image_size},
                    {"encoder_dim", c.encoder_dim},
                    {"encoder_depth", c.encoder_depth},
                    {"embedding_shape", {c.out_chans, c.embedding_size(), c.embedding_size()}},
                    {"low_res_size", c.low_res_size()},
                    {"precision", model->precision() == SamPrecision::Bf16 ? "bfloat16" : "float32"},
                    {"fingerprint", model->fingerprint()},
                    {"generate", bool(SEGKIT_SERVER_HAS_GENERATOR)},
                    {"limits", {{"max_body_bytes", l.max_body_bytes}, {"max_image_pixels", l.max_image_pixels},
                                {"max_points", l.max_points}, {"max_jobs", l.max_jobs}, {"cache_bytes", l.cache_bytes}}}});
  }

  void upload(const std::string& body, httplib::Response& res) {
    auto added = store.add(body);
    const auto& img = *added.image;
    send_json(res, {{"image_id", img.id}, {"width", img.width}, {"height", img.height}, {"cached", added.cached}});
  }

  void predict(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    const std::string id = req.matches[1];
    std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
    if (format != "json" && format != "png") throw HttpError(400, "format: expected json or png");
    auto img = image_or_404(id);
    server::PredictRequest r = server::parse_predict_request(body, options.limits.max_points);
    if (!r.mask_input_id.empty()) {
      auto mi = mask_inputs.get(r.mask_input_id);
      if (!mi) throw HttpError(404, "mask_input_id " + r.mask_input_id + " is unknown or expired: predict again without it");
      if (mi->image_id != id) throw HttpError(400, "mask_input_id " + r.mask_input_id + " belongs to another image");
      r.prompt.mask_input = mi->logits;
    }
    // A predictor per request: set_embedding is a copy, so requests never share state or wait.
    SamPredictor predictor(model);
    predictor.set_embedding(img->embedding);
    SamPrediction p = predictor.predict(r.prompt);
    const int best = p.best();
    const size_t plane = static_cast<size_t>(p.height) * p.width;
    if (format == "png") {
      std::vector<uint8_t> grey(plane);
      const uint8_t* m = p.masks.data() + best * plane;
      for (size_t i = 0; i < plane; ++i) grey[i] = m[i] ? 255 : 0;
      auto png = encode_png(grey.data(), p.width, p.height, 1);
      res.status = 200;
      res.set_content(reinterpret_cast<const char*>(png.data()), png.size(), "image/png");
      res.set_header("X-Segkit-Score", std::to_string(p.iou_predictions[best]));
      return;
    }
    auto mi = std::make_shared<MaskInput>();
    mi->image_id = id;
    const size_t low = static_cast<size_t>(p.low_res) * p.low_res;
    mi->logits.assign(p.low_res_logits.begin() + best * low, p.low_res_logits.begin() + (best + 1) * low);
    std::string mask_input_id = random_hex(24);
    mask_inputs.put(mask_input_id, mi, mi->logits.size() * sizeof(float) + sizeof(MaskInput));
    json out{{"masks", parse_json(prediction_records_json(p), "prediction")},
             {"best", best},
             {"mask_input_id", mask_input_id},
             {"width", p.width},
             {"height", p.height}};
    send_json(res, out);
  }

  void generate(const httplib::Request& req, httplib::Response& res, const std::string& body) {
#if SEGKIT_SERVER_HAS_GENERATOR
    const std::string id = req.matches[1];
    auto img = image_or_404(id);
    SamGeneratorParams params = parse_generator_params(body);
    auto model_ref = model;
    const int64_t max_pixels = options.limits.max_image_pixels;
    std::string job_id = jobs.start("generate", id, [img, params, model_ref, max_pixels](server::JobControl& control) {
      Image image = decode_image(reinterpret_cast<const uint8_t*>(img->encoded.data()), img->encoded.size(), "image",
                                 ImageLimits{max_pixels});
      SamMaskGenerator generator(model_ref, params);
      // The upload already paid for the whole image's encoding: only crops are encoded here.
      auto records = generator.generate(image, img->embedding, [&control](double fraction) {
        control.set_progress(fraction);
        return !control.cancelled();
      });
      return mask_records_to_json(records, MaskOutputMode::CocoRle);
    });
    send_json(res, job_json(job_or_404(job_id)), 202);
#else
    (void)req;
    (void)res;
    (void)body;
    throw HttpError(501, "segment everything is not available in this build (the automatic mask generator is not compiled in)");
#endif
  }

  server::JobSnapshot job_or_404(const std::string& id) {
    auto job = jobs.get(id);
    if (!job) throw HttpError(404, "job " + id + " is unknown (or finished long ago)");
    return *job;
  }

  static json job_json(const server::JobSnapshot& s) {
    json j{{"job_id", s.id},
           {"kind", s.kind},
           {"image_id", s.image_id},
           {"state", server::job_state_name(s.state)},
           {"progress", s.progress},
           {"seconds", s.seconds}};
    if (s.state == server::JobState::Failed) j["error"] = s.error;
    if (s.state == server::JobState::Done) j["result_url"] = "/v1/jobs/" + s.id + "/result";
    return j;
  }
};

SegmentServer::SegmentServer(std::shared_ptr<const SamModel> model, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(options))) {}

SegmentServer::~SegmentServer() {
  stop();
  impl_->jobs.shutdown();
}

int SegmentServer::bind() {
  const auto& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
    if (impl_->port < 0) fail(o.host, "cannot listen on any port");
  } else {
    if (!impl_->http.bind_to_port(o.host, o.port))
      fail(o.host + ":" + std::to_string(o.port), "cannot listen (address in use, or not an address of this machine)");
    impl_->port = o.port;
  }
  return impl_->port;
}

void SegmentServer::run() {
  if (impl_->port < 0) bind();
  impl_->in_run = true;
  if (!impl_->stopped) {
    impl_->log("segkit serve: listening on " + url());
    impl_->http.listen_after_bind();
  }
  impl_->in_run = false;
  impl_->jobs.shutdown();
  impl_->log("segkit serve: stopped");
}

void SegmentServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  // Fail uploads waiting for the encoder and cancel jobs first, so that the HTTP threads the
  // listener waits for are not stuck behind them.
  impl_->store.shutdown();
  impl_->jobs.shutdown();
  // httplib's stop() only reaches a listener that has started: wait for run() to get there.
  for (int i = 0; i < 2000 && impl_->in_run && !impl_->http.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->http.stop();
}

int SegmentServer::bound_port() const { return impl_->port; }

std::string SegmentServer::url() const {
  const std::string& h = impl_->options.host;
  bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port);
}

}  // namespace segkit
