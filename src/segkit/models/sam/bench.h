#pragma once
// Timing SAM end to end on one image: model load, image encoder, one prompt with
// postprocessing, 64 prompts through the decoder; medians over repeats after a warm-up.
#include <optional>
#include <string>

#include "segkit/sam.h"

namespace segkit {

struct SamBenchOptions {
  std::string model;  // anything SamModel::load accepts
  std::string image;
  LoadOptions load;  // warn_unused is ignored: the bench never warns
  std::string only;  // "" (everything), "encoder", "decoder" or "generate"
  int repeat = 3;    // timed runs per measurement, after one untimed warm-up
};

struct SamBenchResult {
  std::string precision;  // resolved: "fp32" or "bf16"
  SamConfig config;
  int image_height = 0, image_width = 0;
  double load_ms = 0;
  std::optional<double> encoder_ms;          // set_image: resize, normalise, encoder
  std::optional<double> decoder_ms;          // predict(): 1 point, 3 masks, upscaled to the image size
  std::optional<double> decoder_batch64_ms;  // 64 one-point prompts in one decoder call, low-res output only
  std::optional<double> generate_ms;         // automatic mask generator, upstream defaults (where built in)
  // Process CPU time (all threads) of the same runs, medians: steadier than wall time on a busy machine.
  std::optional<double> encoder_cpu_ms, decoder_cpu_ms, decoder_batch64_cpu_ms, generate_cpu_ms;
  double peak_rss_mb = 0;                    // whole run
  std::optional<double> encoder_peak_rss_mb, decoder_peak_rss_mb, generate_peak_rss_mb;  // per phase, where the kernel can reset the peak
};

// Progress lines go to `log` when it is set (e.g. stderr unless --quiet).
SamBenchResult run_sam_bench(const SamBenchOptions& options, void (*log)(const std::string&) = nullptr);

}  // namespace segkit
