// COCO instance evaluation from JSON text: the gt file and the results list (segmentations as
// polygons, boxes, compressed or uncompressed RLE). Input: gt JSON, a NUL byte, results JSON.
#include <cstring>

#include "fuzz_util.h"
#include "segkit/coco_eval.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all = segkit::fuzz::as_string(data, size);
  const size_t split = all.find('\0');
  if (split == std::string::npos) return 0;
  SEGKIT_FUZZ_EXPECT_ERRORS(segkit::coco_evaluate_segm(all.substr(0, split), "gt.json", all.substr(split + 1),
                                                       "results.json", 1));
  return 0;
}
