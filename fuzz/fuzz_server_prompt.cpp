// The server's prompt JSON: the body of POST /v1/images/{id}/predict. A bad body must be an
// HttpError 400; an accepted one must hold only what the decoder can take.
#include <cmath>

#include "fuzz_util.h"
#include "server/http_error.h"
#include "server/predict_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body = segkit::fuzz::as_string(data, size);
  try {
    const segkit::server::PredictRequest r = segkit::server::parse_predict_request(body, 64);
    const segkit::SamPrompt& p = r.prompt;
    if (p.points.size() > 64 || p.labels.size() != p.points.size()) __builtin_trap();
    for (size_t i = 0; i < p.points.size(); ++i) {
      if (!std::isfinite(p.points[i][0]) || !std::isfinite(p.points[i][1])) __builtin_trap();
      if (p.labels[i] != 0 && p.labels[i] != 1) __builtin_trap();
    }
    if (p.box)
      for (float v : *p.box)
        if (!std::isfinite(v)) __builtin_trap();
  } catch (const segkit::server::HttpError& e) {
    if (e.status() != 400) __builtin_trap();
  }
  return 0;
}
