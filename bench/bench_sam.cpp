// SAM timings for the tiny test model and a full-size ViT-B with random weights, fp32 and
// bf16, one JSON line each, then the bf16/fp32 ratios measured in the same run.
//   build/bench/bench_sam [--image ../shared/images/truck.jpg] [--models build/bench-models]
//                         [--variants tiny,vit_b] [--repeat 3]
// The random ViT-B is written under --models the first time (about 360 MB, never committed).
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "models/sam/bench.h"
#include "models/sam/random_checkpoint.h"
#include "segkit/error.h"
#include "segkit/machine.h"
#include "segkit/threads.h"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

int main(int argc, char** argv) {
  std::string root = std::filesystem::path(__FILE__).parent_path().parent_path().string();
  std::string image = root + "/../shared/images/truck.jpg", models = root + "/build/bench-models";
  std::string variants = "tiny,vit_b", precisions = "fp32,bf16";
  int repeat = 3, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--image") image = v;
    else if (k == "--models") models = v;
    else if (k == "--variants") variants = v;
    else if (k == "--precisions") precisions = v;
    else if (k == "--repeat") repeat = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else {
      std::cerr << "bench_sam: unknown option " << k << "\n";
      return 2;
    }
  }
  try {
    segkit::set_num_threads(threads);
    segkit::MachineInfo m = segkit::machine_info();
    std::cout << nlohmann::json({{"machine", m.cpu_model}, {"logical_cores", m.logical_cores}, {"native_bf16", m.native_bf16},
                                 {"threads", segkit::num_threads()}, {"image", image}})
                     .dump()
              << std::endl;
    for (const std::string& variant : split(variants)) {
      std::string path = variant == "tiny" ? root + "/tests/data/sam-tiny/hf" : models + "/" + variant;
      if (variant != "tiny" && !std::filesystem::exists(path + "/model.safetensors")) {
        std::cerr << "bench_sam: writing a random " << variant << " to " << path << "\n";
        segkit::sam::write_random_checkpoint(path, segkit::sam::standard_config(variant), 0);
      }
      std::map<std::string, double> encoder;
      for (const std::string& precision : split(precisions)) {
        segkit::SamBenchOptions o;
        o.model = path;
        o.image = image;
        o.repeat = repeat;
        o.load.precision = segkit::parse_precision(precision);
        segkit::SamBenchResult r = segkit::run_sam_bench(o);
        if (r.encoder_ms) encoder[r.precision] = *r.encoder_ms;
        std::cout << nlohmann::json({{"variant", variant}, {"precision", r.precision}, {"load_ms", r.load_ms},
                                     {"encoder_ms", opt(r.encoder_ms)}, {"decoder_ms", opt(r.decoder_ms)},
                                     {"decoder_batch64_ms", opt(r.decoder_batch64_ms)}, {"encoder_cpu_ms", opt(r.encoder_cpu_ms)},
                                     {"decoder_cpu_ms", opt(r.decoder_cpu_ms)},
                                     {"decoder_batch64_cpu_ms", opt(r.decoder_batch64_cpu_ms)}, {"peak_rss_mb", r.peak_rss_mb},
                                     {"encoder_peak_rss_mb", opt(r.encoder_peak_rss_mb)},
                                     {"decoder_peak_rss_mb", opt(r.decoder_peak_rss_mb)}})
                         .dump()
                  << std::endl;
      }
      if (encoder.count("fp32") && encoder.count("bf16"))
        std::cout << nlohmann::json({{"variant", variant}, {"encoder_bf16_over_fp32", encoder["bf16"] / encoder["fp32"]}}).dump()
                  << std::endl;
    }
  } catch (const segkit::Error& e) {
    std::cerr << "bench_sam: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
