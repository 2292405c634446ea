#pragma once
// segkit reports every user-facing failure as segkit::Error: a one-line message that names
// the file (or argument) and the problem. Anything else escaping the library is a bug.
#include <stdexcept>
#include <string>

namespace segkit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a caller's progress callback asked long work to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// Throws Error("<context>: <message>") — the common shape "file: problem".
[[noreturn]] void fail(const std::string& context, const std::string& message);

}  // namespace segkit
