#include "server/http_app.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "segkit/error.h"
#include "server/http_error.h"
#include "server/web_assets.h"

namespace segkit::server {

using nlohmann::json;

namespace {

const char* kJson = "application/json";
// How far past the body limit a request is still read (and dropped) so that its client gets the 413.
constexpr size_t kDrainBytes = size_t{1} << 20;

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

}  // namespace

void send_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", message}}.dump(), kJson);
}

HttpApp::HttpApp(HttpAppOptions options, const std::vector<Route>& routes)
    : options_(std::move(options)), loopback_only_(is_loopback(options_.host)) {
  configure();
  add_routes(routes);
}

// Threads, timeouts, the request log and the answers httplib gives by itself.
void HttpApp::configure() {
  const int threads = std::max(1, options_.threads);
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // Bodies over the limit are read on (and dropped) for up to kDrainBytes more: the client is
  // usually still sending, and a server that closed with the body unread would reset the
  // connection, losing the 413 on the way. Beyond that httplib refuses at once.
  const size_t drain = options_.max_body_bytes > SIZE_MAX - kDrainBytes ? SIZE_MAX : options_.max_body_bytes + kDrainBytes;
  http_.set_payload_max_length(drain);
  http_.set_keep_alive_max_count(1000);
  http_.set_tcp_nodelay(true);  // headers and body go out in separate writes: no Nagle stall between them
  http_.set_read_timeout(30);
  http_.set_write_timeout(30);

  static thread_local std::chrono::steady_clock::time_point request_start;
  http_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    // HTTP says such a request has no body; httplib would wait for one until the connection closes.
    if ((req.method == "POST" || req.method == "PUT" || req.method == "PATCH") && !req.has_header("Content-Length") &&
        !req.has_header("Transfer-Encoding")) {
      send_error(res, 411, req.method + " needs a Content-Length (0 for no body)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
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
  const size_t body_limit = options_.max_body_bytes;
  http_.set_error_handler(httplib::Server::HandlerWithResponse([body_limit](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;
    if (res.status == 413)
      send_error(res, 413, "request body is larger than the limit of " + std::to_string(body_limit) + " bytes");
    else
      send_error(res, res.status, reason(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
}

void HttpApp::add_routes(const std::vector<Route>& routes) {
  for (const Route& route : routes) {
    const std::string method = route.method;
    if (method == "GET") {
      http_.Get(route.path, guarded([handle = route.handle](const httplib::Request& req, httplib::Response& res) {
                 handle(req, res, std::string());
               }));
    } else if (method == "POST") {
      http_.Post(route.path, with_body(route.handle));
    } else {
      // DELETE routes read a body too (httplib hands a DELETE with a Content-Length to body readers first).
      http_.Delete(route.path, with_body(route.handle));
    }
    auto known = std::find_if(known_paths_.begin(), known_paths_.end(), [&](const KnownPath& k) { return k.path == route.path; });
    if (known == known_paths_.end()) known_paths_.push_back({route.path, std::regex(route.path), method});
    else known->methods += ", " + method;
  }

  // The UI, from memory; then 404 or 405 for everything else.
  http_.Get(".*", guarded([this](const httplib::Request& req, httplib::Response& res) {
             if (const auto* asset = server::find_web_asset(req.path)) {
               res.status = 200;
               res.set_content(asset->body.data(), asset->body.size(), std::string(asset->content_type));
               res.set_header("Cache-Control", "no-cache");
               return;
             }
             not_routed(req);
           }));
  auto fallback = with_body([this](const httplib::Request& req, httplib::Response&, const std::string&) { not_routed(req); });
  http_.Post(".*", fallback);
  http_.Put(".*", fallback);
  http_.Patch(".*", fallback);
  http_.Delete(".*", fallback);
}

// Every handler runs through here: library errors become JSON with the right status.
template <typename F>
void HttpApp::answer(const httplib::Request& req, httplib::Response& res, F&& f) {
  try {
    // On loopback, only pages from this machine's own names may call us: a foreign Host is
    // a web page using DNS rebinding to reach a local server.
    if (loopback_only_ && !host_is_local(req.get_header_value("Host")))
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

httplib::Server::Handler HttpApp::guarded(std::function<void(const httplib::Request&, httplib::Response&)> f) {
  return [this, f](const httplib::Request& req, httplib::Response& res) { answer(req, res, [&] { f(req, res); }); };
}

// Routes with a body read it here rather than through httplib's own reading, which would
// parse form-encoded bodies (8 KiB limit) and take chunked bodies of any size. A multipart
// upload (curl -F, an HTML form) gives its first part.
httplib::Server::HandlerWithContentReader HttpApp::with_body(BodyHandler f) {
  return [this, f](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    answer(req, res, [&] {
      const size_t limit = options_.max_body_bytes;
      std::string body;
      bool too_large = false;
      size_t received = 0;
      auto append = [&](const char* data, size_t n) {
        received += n;
        if (too_large || received > limit) {  // read on, dropping it, as configure() says
          too_large = true;
          std::string().swap(body);
          return received - limit <= kDrainBytes;
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

void HttpApp::not_routed(const httplib::Request& req) const {
  for (const auto& k : known_paths_)
    if (std::regex_match(req.path, k.pattern)) throw HttpError(405, req.method + " " + req.path + ": use " + k.methods);
  throw HttpError(404, req.path + ": no such route (see GET /v1/model, POST /v1/images)");
}

int HttpApp::bind(int port) {
  const std::string& host = options_.host;
  if (port == 0) {
    port = http_.bind_to_any_port(host);
    if (port < 0) fail(host, "cannot listen on any port");
  } else if (!http_.bind_to_port(host, port)) {
    fail(host + ":" + std::to_string(port), "cannot listen (address in use, or not an address of this machine)");
  }
  return port;
}

void HttpApp::run() {
  in_run_ = true;
  if (!stopped_) http_.listen_after_bind();
  in_run_ = false;
}

void HttpApp::stop() {
  if (stopped_.exchange(true)) return;
  // httplib's stop() only reaches a listener that has started: wait for run() to get there.
  for (int i = 0; i < 2000 && in_run_ && !http_.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_.stop();
}

}  // namespace segkit::server
