#pragma once
// An error that a request handler turns into a JSON response {"error": message} with `status`.
#include <stdexcept>
#include <string>

namespace segkit::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace segkit::server
