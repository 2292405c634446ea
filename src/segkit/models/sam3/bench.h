#pragma once
// Timing SAM 3 (the internal sam3::Model, fp32 or bf16) on one image: load, preprocess, image encoding,
// then phrases against the encoded image — one phrase, 16 phrases as one batch and 16 phrases
// one at a time — each split into text encoding, detection (DETR, scoring, masks) and
// post-processing; with the multiply-adds of each part and the peak memory of each phase.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "models/sam3/macs.h"

namespace segkit::sam3 {

struct BenchOptions {
  std::string model;  // a SAM 3 model folder (what sam3::Model::load takes)
  std::string image;
  int repeat = 3;     // timed runs per measurement, after one untimed warm-up
  int phrases = 16;   // the many-phrases measurements
  double threshold = 0.3, mask_threshold = 0.5;  // Sam3Processor's post-processing defaults
  bool bf16 = false;  // Model::use_bfloat16 after loading (counted in the load)
  bool encoding_only = false;  // stop after the image encoding (no phrase measurements)
};

struct BenchTiming {
  double ms = 0;      // wall time, median
  double cpu_ms = 0;  // process CPU time (all threads), median
};

// Phrases after the image is encoded: each part timed on its own within one pass.
struct PhraseTiming {
  int phrases = 0;  // in this measurement
  BenchTiming text, detect, postprocess;
  BenchTiming total;  // the three together, per pass (median of the passes' sums)
  int64_t instances = 0;  // kept by the post-processing, all phrases together (random weights: any number)
  std::optional<double> peak_rss_mb;
};

struct BenchResult {
  std::string precision;  // "fp32" or "bf16"
  Sam3Config config;
  int64_t parameter_count = 0;  // float values in model.safetensors (the image model's)
  int image_height = 0, image_width = 0;
  int input_size = 0;  // the processed input, 1 × 3 × input_size × input_size
  double load_ms = 0;
  BenchTiming preprocess, image_encoding;
  // Absent with options.encoding_only.
  std::optional<PhraseTiming> one_phrase;  // 1 phrase
  std::optional<PhraseTiming> batch;       // options.phrases phrases in one call of each part
  std::optional<PhraseTiming> sequential;  // options.phrases phrases one after another (parts summed over them)
  VisionMacs vision_macs;        // one image
  PhraseMacs phrase_macs;        // one phrase
  std::optional<double> load_peak_rss_mb, image_encoding_peak_rss_mb;
  double peak_rss_mb = 0;  // whole run
};

// Progress lines go to `log` when it is set. Error "--repeat: ..." for a repeat below 1, and
// the loader's errors for a folder that is not a SAM 3 model.
BenchResult run_bench(const BenchOptions& options, void (*log)(const std::string&) = nullptr);

// "sam3 vit-32x1024 1008px, text 24x1024, detr 6+6x256, 200 queries": for bench output.
std::string describe(const Sam3Config& config);

}  // namespace segkit::sam3
