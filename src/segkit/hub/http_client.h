#pragma once
// A small blocking HTTP client over libcurl: one request, its final response's status and
// headers, and the body either collected or streamed to a callback.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace segkit {

struct HttpRequest {
  std::string url;
  bool head = false;                  // HEAD instead of GET
  bool follow_redirects = true;
  std::vector<std::string> headers;   // "Name: value"
  // Streams the body of the final response; return false to abort the transfer. When absent,
  // the body is collected into HttpResponse::body. `status` is the final response's code.
  std::function<bool(const char* data, size_t n, long status)> on_body;
  // Bytes received of the total this response announced (0 when unknown).
  std::function<void(uint64_t received, uint64_t total)> on_progress;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response; names lowercased
  std::string body;
  std::string redirect_url;  // absolute Location of a redirect that was not followed
  bool transfer_ok = false;  // false: connection failed or broke off (see error)
  bool aborted = false;      // on_body returned false
  std::string error;         // libcurl's description when !transfer_ok
  std::string header(const std::string& lowercase_name) const;
};

// Never throws for network trouble (see transfer_ok); Error only if libcurl cannot start.
HttpResponse http_request(const HttpRequest& request);

// Percent-encodes everything but unreserved characters; keeps '/' when asked (file paths).
std::string url_escape(const std::string& s, bool keep_slash);

}  // namespace segkit
