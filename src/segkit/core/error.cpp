#include "segkit/error.h"

namespace segkit {

void fail(const std::string& context, const std::string& message) {
  throw Error(context.empty() ? message : context + ": " + message);
}

}  // namespace segkit
