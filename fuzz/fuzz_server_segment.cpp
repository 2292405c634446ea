// The body of POST /v1/images/{id}/segment. A bad body must be an HttpError 400; an accepted
// one must hold finite thresholds in [0, 1] and no negative label.
#include <cmath>

#include "fuzz_util.h"
#include "server/http_error.h"
#include "server/segment_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const segkit::server::SegmentRequest r = segkit::server::parse_segment_request(segkit::fuzz::as_string(data, size));
    const segkit::SegmentationOptions& o = r.options;
    for (float v : {o.threshold, o.mask_threshold, o.overlap_mask_area_threshold})
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
    for (int label : o.label_ids_to_fuse)
      if (label < 0) __builtin_trap();
  } catch (const segkit::server::HttpError& e) {
    if (e.status() != 400) __builtin_trap();
  }
  return 0;
}
