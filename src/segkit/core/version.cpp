#include "segkit/version.h"

namespace segkit {
const char* version_string() { return "0.1.0"; }
}  // namespace segkit
