#pragma once
// The HTTP side of `segkit serve`, apart from any model: one route table (registration and the
// 405 answers both come from it), bodies read under a size limit, errors as JSON with the
// right status, the loopback Host check, one log line per request, and the browser UI served
// from memory. A model's service (server/sam_service.h) supplies the routes.
#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <regex>
#include <string>
#include <vector>

namespace segkit::server {

// GET handlers get an empty body.
using BodyHandler = std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;

struct Route {
  const char* method;  // GET, POST or DELETE
  std::string path;    // a regex over the whole path; its groups are req.matches
  BodyHandler handle;
};

void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
void send_error(httplib::Response& res, int status, const std::string& message);

struct HttpAppOptions {
  std::string host;
  int threads = 16;
  size_t max_body_bytes = 0;
  std::function<void(const std::string&)> log;  // one line per request; empty: silent
};

class HttpApp {
 public:
  HttpApp(HttpAppOptions options, const std::vector<Route>& routes);
  // Error naming the address when binding fails; port 0 takes any free port. Returns the port.
  int bind(int port);
  // Serves until stop(); returns at once when stop() came first.
  void run();
  void stop();  // from any thread; idempotent

 private:
  void configure();
  void add_routes(const std::vector<Route>& routes);
  template <typename F>
  void answer(const httplib::Request& req, httplib::Response& res, F&& f);
  httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> f);
  httplib::Server::HandlerWithContentReader with_body(BodyHandler f);
  [[noreturn]] void not_routed(const httplib::Request& req) const;
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  struct KnownPath {
    std::string path;
    std::regex pattern;
    std::string methods;  // "GET, DELETE"
  };

  HttpAppOptions options_;
  bool loopback_only_;
  httplib::Server http_;
  std::vector<KnownPath> known_paths_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> in_run_{false};
};

}  // namespace segkit::server
