#pragma once
// Timing Mask2Former on one image, stage by stage (preprocess, backbone, pixel decoder,
// transformer decoder, each task's post-processing) and the whole forward pass, at given
// processed sizes; with the multiply-adds of each size and the peak memory.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/mask2former/macs.h"
#include "segkit/mask2former.h"

namespace segkit {

struct Mask2FormerBenchOptions {
  std::string model;  // anything Mask2FormerModel::load accepts
  std::string image;
  LoadOptions load;  // warn_unused is ignored: the bench never warns
  // Each an input size: "HEIGHTxWIDTH" resizes to exactly that (e.g. 800x1216, the paper's
  // evaluation size); "processor" uses the checkpoint's own preprocessor_config.json.
  std::vector<std::string> sizes{"800x1216", "processor"};
  int repeat = 3;  // timed runs per measurement, after one untimed warm-up
};

struct Mask2FormerTiming {
  double ms = 0;      // wall time, median
  double cpu_ms = 0;  // process CPU time (all threads), median
};

struct Mask2FormerBenchRun {
  std::string size;       // as requested
  int height = 0, width = 0;  // the processed input, 1 × 3 × height × width
  mask2former::ForwardMacs macs;
  Mask2FormerTiming preprocess, backbone, pixel_decoder, transformer_decoder;
  Mask2FormerTiming forward;  // the public forward(): all three network stages and the copy-out
  std::map<std::string, Mask2FormerTiming> postprocess;  // by task: "semantic", "instance", "panoptic"
  std::optional<double> peak_rss_mb;  // this size's runs, where the kernel can reset the peak
};

struct Mask2FormerBenchResult {
  std::string precision;  // resolved: "fp32"
  Mask2FormerConfig config;
  int64_t parameter_count = 0;
  int image_height = 0, image_width = 0;
  double load_ms = 0;
  std::vector<Mask2FormerBenchRun> runs;  // in the order of options.sizes
  double peak_rss_mb = 0;                 // whole run
};

// Progress lines go to `log` when it is set. Error "--size: ..." for a size it cannot read.
Mask2FormerBenchResult run_mask2former_bench(const Mask2FormerBenchOptions& options, void (*log)(const std::string&) = nullptr);

}  // namespace segkit
