// `segkit bench`: how fast SAM runs here (load, encoder, decoder, memory), as one JSON object.
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "models/sam/bench.h"
#include "segkit/machine.h"
#include "segkit/model.h"
#include "segkit/threads.h"
#include "segkit/version.h"

namespace {
struct BenchArgs {
  segkit::SamBenchOptions bench;
  segkit::cli::LoadArgs load;
  bool json = false;
  segkit::cli::CommonOptions common;
} args;

nlohmann::json optional_ms(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

void log_line(const std::string& s) { std::cerr << "segkit bench: " << s << "\n"; }
}  // namespace

SEGKIT_COMMAND("bench", "Time SAM on this machine: model load, image encoder, decoder (median of repeats)", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.bench.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
  cmd.add_option("-i,--image", args.bench.image, "Input image")->required();
  segkit::cli::add_load_options(cmd, args.load);
  cmd.add_option("--only", args.bench.only, "Time only one part")->check(CLI::IsMember({"encoder", "decoder", "generate"}));
  cmd.add_option("--repeat", args.bench.repeat, "Timed runs per measurement, after one warm-up; the median is reported")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--json", args.json, "Print one JSON object");
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback([] {
    segkit::cli::apply_common_options(args.common);
    args.bench.load = args.load.options();
    segkit::require_model_family(args.bench.model, "sam");  // before the timed load
    segkit::SamBenchResult r = segkit::run_sam_bench(args.bench, args.common.quiet ? nullptr : &log_line);
    segkit::MachineInfo m = segkit::machine_info();
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    nlohmann::json j = {
        {"segkit", segkit::version_string()},
        {"model", args.bench.model},
        {"architecture", r.config.describe()},
        {"image", args.bench.image},
        {"image_size", {r.image_width, r.image_height}},
        {"precision", r.precision},
        {"threads", segkit::num_threads()},
        {"repeat", args.bench.repeat},
        {"load_ms", r.load_ms},
        {"encoder_ms", optional_ms(r.encoder_ms)},
        {"decoder_ms", optional_ms(r.decoder_ms)},
        {"decoder_batch64_ms", optional_ms(r.decoder_batch64_ms)},
        {"generate_ms", optional_ms(r.generate_ms)},  // null where this build has no generator
        {"cpu_ms",
         {{"encoder", optional_ms(r.encoder_cpu_ms)},
          {"decoder", optional_ms(r.decoder_cpu_ms)},
          {"decoder_batch64", optional_ms(r.decoder_batch64_cpu_ms)},
          {"generate", optional_ms(r.generate_cpu_ms)}}},
        {"peak_rss_mb", r.peak_rss_mb},
        {"encoder_peak_rss_mb", optional_ms(r.encoder_peak_rss_mb)},
        {"decoder_peak_rss_mb", optional_ms(r.decoder_peak_rss_mb)},
        {"generate_peak_rss_mb", optional_ms(r.generate_peak_rss_mb)},
        {"machine",
         {{"cpu", m.cpu_model},
          {"logical_cores", m.logical_cores},
          {"simd", m.simd_flags},
          {"native_bf16", m.native_bf16},
          {"openblas_coretype", coretype ? coretype : ""}}}};
    if (args.json) {
      std::cout << j.dump() << "\n";
      return;
    }
    std::cout << "model      " << args.bench.model << " (" << r.config.describe() << ")\n"
              << "precision  " << r.precision << ", threads " << segkit::num_threads() << ", median of " << args.bench.repeat << "\n"
              << "load       " << r.load_ms << " ms\n";
    if (r.encoder_ms) std::cout << "encoder    " << *r.encoder_ms << " ms\n";
    if (r.decoder_ms) std::cout << "decoder    " << *r.decoder_ms << " ms (1 prompt, upscaled)\n";
    if (r.decoder_batch64_ms) std::cout << "decoder64  " << *r.decoder_batch64_ms << " ms (64 prompts, low-res)\n";
    if (r.generate_ms) std::cout << "generate   " << *r.generate_ms << " ms (segment everything, defaults)\n";
    std::cout << "peak RSS   " << r.peak_rss_mb << " MiB\n";
  });
});
