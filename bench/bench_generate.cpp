// Segment-everything cost on a full-size ViT-B with random weights. Prints JSON lines:
// 1. "postprocess": upscaling + stability + threshold + boxes + RLE of 48 masks at the image's
//    size, segkit's path (chunks of 16, one measuring pass) against upstream's order of
//    operations (all masks upscaled at once, then separate passes), in the same run;
// 2. "generate": the whole generator (upstream defaults, then every filter open), split into
//    encoder, decoding and post-processing, with resident and peak memory after each run
//    (repeated runs: a folder run must not grow).
//
//   bench_generate [IMAGE] [--model M] [--points-per-side N] [--repeat N] [--threads N] [--postprocess-only]
// IMAGE defaults to ../shared/images/truck.jpg; without --model a random ViT-B is written to a
// temporary file first.
#include <ATen/Context.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/memory_cache.h"
#include "models/sam/predictor_torch.h"
#include "models/sam/preprocess.h"
#include "models/sam/random_checkpoint.h"
#include "postprocess/mask_boxes.h"
#include "postprocess/mask_measure.h"
#include "postprocess/stability_score.h"
#include "segkit/image.h"
#include "segkit/rle.h"
#include "segkit/sam_generator.h"
#include "segkit/threads.h"

namespace fs = std::filesystem;

static double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

static double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1048576.0);
}

using Clock = std::chrono::steady_clock;
static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of the whole process: meaningful on a shared machine where wall time is not.
static double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void encode_all(const at::Tensor& masks) {
  const at::Tensor m = masks.contiguous();
  for (int64_t i = 0; i < m.size(0); ++i)
    segkit::rle_encode(reinterpret_cast<const uint8_t*>(m[i].data_ptr<bool>()), m.size(1), m.size(2));
}

// Post-processing alone on random low-res logits (no model needed).
static void bench_postprocess(const segkit::Image& image, int repeat) {
  const int n = 48, chunk = 16, image_size = 1024;
  const auto input = segkit::sam::preprocess_shape(image.height, image.width, image_size);
  const std::array<int, 2> original{image.height, image.width};
  at::manual_seed(0);
  const at::Tensor low_res = at::randn({n, 256, 256}).mul_(4);
  for (int r = 0; r < repeat; ++r) {
    auto t = Clock::now();
    double c = cpu_seconds();
    {  // upstream: upscale everything, then one full-size pass per step
      const at::Tensor logits = segkit::sam::postprocess_masks(low_res, image_size, input, original);
      const at::Tensor stability = segkit::amg::calculate_stability_score(logits, 0.0, 1.0);
      const at::Tensor masks = logits.gt(0.0);
      const at::Tensor boxes = segkit::amg::batched_mask_to_box(masks);
      encode_all(masks);
    }
    const double upstream_s = since(t), upstream_cpu = cpu_seconds() - c;
    const double upstream_peak = peak_rss_mb();
    t = Clock::now();
    double upscale_cpu = 0, measure_cpu = 0, rle_cpu = 0;
    for (int64_t s = 0; s < n; s += chunk) {
      c = cpu_seconds();
      const at::Tensor logits = segkit::sam::postprocess_masks(low_res.slice(0, s, s + chunk), image_size, input, original);
      upscale_cpu += cpu_seconds() - c;
      c = cpu_seconds();
      const auto measured = segkit::amg::measure_masks(logits, 0.0, 1.0);
      measure_cpu += cpu_seconds() - c;
      c = cpu_seconds();
      encode_all(measured.masks);
      rle_cpu += cpu_seconds() - c;
    }
    const double segkit_s = since(t), segkit_cpu = upscale_cpu + measure_cpu + rle_cpu;
    std::cout << nlohmann::json{{"bench", "postprocess"}, {"run", r}, {"masks", n}, {"size", {image.width, image.height}},
                                {"threads", segkit::num_threads()}, {"upstream_order_s", upstream_s},
                                {"segkit_s", segkit_s}, {"ratio", segkit_s / upstream_s},
                                {"upstream_order_cpu_s", upstream_cpu}, {"segkit_cpu_s", segkit_cpu},
                                {"cpu_ratio", segkit_cpu / upstream_cpu}, {"segkit_upscale_cpu_s", upscale_cpu},
                                {"segkit_measure_cpu_s", measure_cpu}, {"segkit_rle_cpu_s", rle_cpu},
                                {"per_mask_cpu_ms", 1000 * segkit_cpu / n}, {"peak_rss_mb_after_upstream_order", upstream_peak}}
                     .dump()
              << std::endl;
  }
}

int main(int argc, char** argv) {
  std::string image_path = "../shared/images/truck.jpg", model;
  int repeat = 3, threads = 0, points_per_side = 32;
  bool postprocess_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) model = argv[++i];
    else if (a == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
    else if (a == "--points-per-side" && i + 1 < argc) points_per_side = std::stoi(argv[++i]);
    else if (a == "--postprocess-only") postprocess_only = true;
    else image_path = a;
  }
  // The generator always runs with the models' caching allocator installed; without it every
  // 138 MB chunk of upscaled masks would be fresh pages, and the timings would be page faults.
  segkit::core::use_tensor_memory_cache();
  try {
    segkit::set_num_threads(threads);
    const segkit::Image image = segkit::load_image(image_path);
    bench_postprocess(image, repeat);
    if (postprocess_only) return 0;
    std::string tmp;
    if (model.empty()) {
      tmp = (fs::temp_directory_path() / ("segkit-bench-vitb-" + std::to_string(::getpid()))).string();
      segkit::sam::write_random_checkpoint(tmp, segkit::sam::standard_config("vit_b"));
      model = tmp;
    }
    const auto t0 = std::chrono::steady_clock::now();
    segkit::LoadOptions quiet;
    quiet.warn_unused = false;
    auto sam = segkit::SamModel::load(model, quiet);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!tmp.empty()) fs::remove_all(tmp);

    // Defaults, then every filter open (the post-processing worst case: every mask upscaled).
    segkit::SamGeneratorParams defaults;
    defaults.points_per_side = points_per_side;
    segkit::SamGeneratorParams open = defaults;
    open.pred_iou_thresh = -1e9;
    open.stability_score_thresh = 0;
    const std::pair<const char*, segkit::SamGeneratorParams> settings[] = {{"defaults", defaults}, {"filters_open", open}};
    for (const auto& [name, params] : settings) {
      segkit::SamMaskGenerator generator(sam, params);
      for (int r = 0; r < repeat; ++r) {
        const auto records = generator.generate(image);
        const auto& t = generator.last_timings();
        nlohmann::json j = {{"bench", "generate"},
                            {"setting", name},
                            {"points_per_side", params.points_per_side},
                            {"run", r},
                            {"model", tmp.empty() ? model : "random ViT-B"},
                            {"image", image_path},
                            {"size", {image.width, image.height}},
                            {"threads", segkit::num_threads()},
                            {"load_s", load_s},
                            {"encoder_s", t.encoder},
                            {"decoder_s", t.decoder},
                            {"postprocess_s", t.postprocess},
                            {"decode_plus_post_over_encoder", (t.decoder + t.postprocess) / t.encoder},
                            {"masks", records.size()},
                            {"rss_mb", current_rss_mb()},
                            {"peak_rss_mb", peak_rss_mb()}};
        std::cout << j.dump() << std::endl;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
