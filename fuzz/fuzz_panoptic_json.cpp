// Panoptic evaluation's JSON side (annotations, segments_info, categories): the input is the
// prediction JSON, evaluated against a fixed ground truth from tests/data whose PNGs are also
// used as the prediction PNGs.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "segkit/files.h"
#include "segkit/panoptic.h"

#ifndef SEGKIT_FUZZ_PANOPTIC_CASE
#error "SEGKIT_FUZZ_PANOPTIC_CASE must name a tests/data/metrics/panoptic case folder"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string pred_json = "/tmp/segkit-fuzz-panoptic-" + std::to_string(::getpid()) + ".json";
  segkit::write_file_atomically(pred_json, data, size);
  segkit::PanopticInputs in;
  in.gt_json = std::string(SEGKIT_FUZZ_PANOPTIC_CASE) + "/gt.json";
  in.gt_dir = std::string(SEGKIT_FUZZ_PANOPTIC_CASE) + "/gt";
  in.pred_json = pred_json;
  in.pred_dir = std::string(SEGKIT_FUZZ_PANOPTIC_CASE) + "/pred";
  in.threads = 1;
  SEGKIT_FUZZ_EXPECT_ERRORS({
    segkit::PanopticResult r = segkit::evaluate_panoptic(in);
    (void)segkit::panoptic_json(r);
  });
  return 0;
}
