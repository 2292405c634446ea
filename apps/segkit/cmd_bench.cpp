// `segkit bench`: how fast a model runs here, as one JSON object. SAM: load, encoder, decoder,
// memory. Mask2Former: load, each stage and the forward pass per input size, multiply-adds, memory.
// SAM 3: load, image encoding, phrases after it (1, 16 in a batch, 16 one at a time; --only encoder skips
// them), multiply-adds, memory.
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "models/mask2former/bench.h"
#include "models/sam/bench.h"
#include "models/sam3/bench.h"
#include "segkit/error.h"
#include "segkit/machine.h"
#include "segkit/model.h"
#include "segkit/threads.h"
#include "segkit/version.h"

namespace {
struct BenchArgs {
  segkit::SamBenchOptions bench;
  std::vector<std::string> sizes;  // Mask2Former only
  segkit::cli::LoadArgs load;
  bool json = false;
  segkit::cli::CommonOptions common;
} args;

nlohmann::json optional_ms(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

void log_line(const std::string& s) { std::cerr << "segkit bench: " << s << "\n"; }

nlohmann::json machine_json() {
  segkit::MachineInfo m = segkit::machine_info();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  return {{"cpu", m.cpu_model},
          {"logical_cores", m.logical_cores},
          {"simd", m.simd_flags},
          {"native_bf16", m.native_bf16},
          {"openblas_coretype", coretype ? coretype : ""}};
}

nlohmann::json timing_json(const segkit::Mask2FormerTiming& t) { return {{"ms", t.ms}, {"cpu_ms", t.cpu_ms}}; }

nlohmann::json timing_json(const segkit::sam3::BenchTiming& t) { return {{"ms", t.ms}, {"cpu_ms", t.cpu_ms}}; }

nlohmann::json phrases_json(const std::optional<segkit::sam3::PhraseTiming>& timing) {
  if (!timing) return nullptr;
  const segkit::sam3::PhraseTiming& t = *timing;
  return {{"phrases", t.phrases},
          {"text", timing_json(t.text)},
          {"detect", timing_json(t.detect)},
          {"postprocess", timing_json(t.postprocess)},
          {"total", timing_json(t.total)},
          {"instances", t.instances},
          {"peak_rss_mb", optional_ms(t.peak_rss_mb)}};
}

// The internal sam3::Model on a SAM 3 folder.
void run_sam3(const std::string& folder) {
  segkit::sam3::BenchOptions o;
  const segkit::Precision p = args.bench.load.precision;
  o.bf16 = p == segkit::Precision::Bf16 || (p == segkit::Precision::Auto && segkit::machine_info().native_bf16);
  o.model = folder;
  o.image = args.bench.image;
  o.repeat = args.bench.repeat;
  o.encoding_only = args.bench.only == "encoder";
  const segkit::sam3::BenchResult r = segkit::sam3::run_bench(o, args.common.quiet ? nullptr : &log_line);
  const double vision_gflop = 2.0 * static_cast<double>(r.vision_macs.total()) / 1e9;
  const double phrase_gflop = 2.0 * static_cast<double>(r.phrase_macs.total()) / 1e9;
  const double weights_mb = 4.0 * static_cast<double>(r.parameter_count) / (1024.0 * 1024.0);
  const nlohmann::json j = {
      {"segkit", segkit::version_string()},
      {"family", "sam3"},
      {"model", args.bench.model},
      {"architecture", segkit::sam3::describe(r.config)},
      {"parameters", r.parameter_count},
      {"weights_mb", weights_mb},
      {"image", o.image},
      {"image_size", {r.image_width, r.image_height}},
      {"input_size", r.input_size},
      {"precision", r.precision},
      {"threads", segkit::num_threads()},
      {"repeat", o.repeat},
      {"load_ms", r.load_ms},
      {"preprocess", timing_json(r.preprocess)},
      {"image_encoding", timing_json(r.image_encoding)},
      {"phrase", phrases_json(r.one_phrase)},
      {"phrases_batch", phrases_json(r.batch)},
      {"phrases_sequential", phrases_json(r.sequential)},
      {"gmacs",
       {{"vision",
         {{"vit", r.vision_macs.vit / 1e9},
          {"neck", r.vision_macs.neck / 1e9},
          {"mask_skips", r.vision_macs.mask_skips / 1e9},
          {"total", r.vision_macs.total() / 1e9}}},
        {"phrase",
         {{"text", r.phrase_macs.text / 1e9},
          {"detr_encoder", r.phrase_macs.detr_encoder / 1e9},
          {"detr_decoder", r.phrase_macs.detr_decoder / 1e9},
          {"mask_decoder", r.phrase_macs.mask_decoder / 1e9},
          {"total", r.phrase_macs.total() / 1e9}}}}},
      {"gflop", {{"image_encoding", vision_gflop}, {"phrase", phrase_gflop}}},
      {"gflop_per_s",
       {{"image_encoding", vision_gflop / (r.image_encoding.ms / 1e3)},
        {"phrase", r.one_phrase ? nlohmann::json(phrase_gflop / ((r.one_phrase->text.ms + r.one_phrase->detect.ms) / 1e3))
                                : nlohmann::json(nullptr)}}},
      {"load_peak_rss_mb", optional_ms(r.load_peak_rss_mb)},
      {"image_encoding_peak_rss_mb", optional_ms(r.image_encoding_peak_rss_mb)},
      {"peak_rss_mb", r.peak_rss_mb},
      {"machine", machine_json()}};
  if (args.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "model      " << args.bench.model << " (" << j["architecture"].get<std::string>() << ")\n"
            << "precision  " << r.precision << ", threads " << segkit::num_threads() << ", median of " << o.repeat << "\n"
            << "load       " << r.load_ms << " ms\n";
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "input      " << r.input_size << "x" << r.input_size << ": image encoding " << vision_gflop << " GFLOP, "
            << j["gflop_per_s"]["image_encoding"].get<double>() << " GFLOP/s\n"
            << "  preprocess              " << r.preprocess.ms << " ms\n"
            << "  image encoding          " << r.image_encoding.ms << " ms\n";
  using Phrases = std::optional<segkit::sam3::PhraseTiming>;
  for (const auto& [label, timing] : {std::pair<std::string, const Phrases*>{"1 phrase", &r.one_phrase},
                                      {"phrases, batch", &r.batch},
                                      {"phrases, one by one", &r.sequential}}) {
    if (!*timing) continue;  // --only encoder
    const segkit::sam3::PhraseTiming& t = **timing;
    const std::string line = t.phrases > 1 ? std::to_string(t.phrases) + " " + label : label;
    std::cout << "  " << line << std::string(line.size() < 24 ? 24 - line.size() : 1, ' ') << t.total.ms << " ms (text "
              << t.text.ms << ", detect " << t.detect.ms << ", postprocess " << t.postprocess.ms << ")\n";
  }
  std::cout << "peak RSS   " << r.peak_rss_mb << " MiB (weights " << weights_mb << " MiB)\n";
}

void run_mask2former() {
  segkit::Mask2FormerBenchOptions o;
  o.model = args.bench.model;
  o.image = args.bench.image;
  o.load = args.bench.load;
  o.repeat = args.bench.repeat;
  if (!args.sizes.empty()) o.sizes = args.sizes;
  const segkit::Mask2FormerBenchResult r = segkit::run_mask2former_bench(o, args.common.quiet ? nullptr : &log_line);
  nlohmann::json runs = nlohmann::json::array();
  for (const segkit::Mask2FormerBenchRun& run : r.runs) {
    const double gflop = 2.0 * static_cast<double>(run.macs.total()) / 1e9;
    nlohmann::json post;
    for (const auto& [task, t] : run.postprocess) post[task] = timing_json(t);
    runs.push_back({{"size", run.size},
                    {"input_height", run.height},
                    {"input_width", run.width},
                    {"preprocess", timing_json(run.preprocess)},
                    {"backbone", timing_json(run.backbone)},
                    {"pixel_decoder", timing_json(run.pixel_decoder)},
                    {"transformer_decoder", timing_json(run.transformer_decoder)},
                    {"forward", timing_json(run.forward)},
                    {"postprocess", post},
                    {"gmacs",
                     {{"backbone", run.macs.backbone / 1e9},
                      {"pixel_decoder", run.macs.pixel_decoder / 1e9},
                      {"transformer_decoder", run.macs.transformer_decoder / 1e9},
                      {"total", run.macs.total() / 1e9}}},
                    {"gflop", gflop},
                    {"gflop_per_s", gflop / (run.forward.ms / 1e3)},
                    {"peak_rss_mb", optional_ms(run.peak_rss_mb)}});
  }
  const nlohmann::json j = {{"segkit", segkit::version_string()},
                            {"family", "mask2former"},
                            {"model", o.model},
                            {"architecture", r.config.describe()},
                            {"parameters", r.parameter_count},
                            {"image", o.image},
                            {"image_size", {r.image_width, r.image_height}},
                            {"precision", r.precision},
                            {"threads", segkit::num_threads()},
                            {"repeat", o.repeat},
                            {"load_ms", r.load_ms},
                            {"runs", runs},
                            {"peak_rss_mb", r.peak_rss_mb},
                            {"machine", machine_json()}};
  if (args.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "model      " << o.model << " (" << r.config.describe() << ")\n"
            << "precision  " << r.precision << ", threads " << segkit::num_threads() << ", median of " << o.repeat << "\n"
            << "load       " << r.load_ms << " ms\n";
  std::cout << std::fixed << std::setprecision(1);
  for (const nlohmann::json& run : runs) {
    std::cout << "input      " << run["input_height"] << "x" << run["input_width"] << " (" << run["size"].get<std::string>()
              << "): " << run["gflop"].get<double>() << " GFLOP, " << run["gflop_per_s"].get<double>() << " GFLOP/s\n";
    for (const char* stage : {"preprocess", "backbone", "pixel_decoder", "transformer_decoder", "forward"})
      std::cout << "  " << stage << std::string(21 - std::string(stage).size(), ' ') << run[stage]["ms"].get<double>() << " ms\n";
    for (const auto& [task, t] : run["postprocess"].items())
      std::cout << "  postprocess " << task << std::string(9 - task.size(), ' ') << t["ms"].get<double>() << " ms\n";
  }
  std::cout << "peak RSS   " << r.peak_rss_mb << " MiB\n";
}
}  // namespace

SEGKIT_COMMAND("bench", "Time SAM, Mask2Former or SAM 3 on this machine: model load, each stage (median of repeats)", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.bench.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
  cmd.add_option("-i,--image", args.bench.image, "Input image")->required();
  segkit::cli::add_load_options(cmd, args.load);
  cmd.add_option("--only", args.bench.only, "Time only one part (SAM: encoder, decoder or generate; SAM 3: encoder)")->check(CLI::IsMember({"encoder", "decoder", "generate"}));
  cmd.add_option("--repeat", args.bench.repeat, "Timed runs per measurement, after one warm-up; the median is reported")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--size", args.sizes,
                 "Mask2Former: input sizes, HEIGHTxWIDTH (resized to exactly that) or 'processor' (the checkpoint's own); "
                 "default 800x1216 (the paper's evaluation size) and processor");
  cmd.add_flag("--json", args.json, "Print one JSON object");
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback([] {
    segkit::cli::apply_common_options(args.common);
    args.bench.load = args.load.options();
    const segkit::ModelInfo info = segkit::inspect_model(args.bench.model);
    if (info.family == "sam3") {
      if (!args.bench.only.empty() && args.bench.only != "encoder")
        segkit::fail("--only", "SAM 3 can time only its image encoding (--only encoder), not '" + args.bench.only + "'");
      if (!args.sizes.empty()) segkit::fail("--size", "is for Mask2Former models; SAM 3 runs at its fixed input size");
      // The folder sam3::Model::load takes: the one the weights were found in.
      run_sam3(info.weights.empty() ? args.bench.model : std::filesystem::path(info.weights).parent_path().string());
      return;
    }
    if (info.family == "mask2former") {
      if (!args.bench.only.empty()) segkit::fail("--only", "is for SAM models; Mask2Former times every stage");
      run_mask2former();
      return;
    }
    if (!args.sizes.empty()) segkit::fail("--size", "is for Mask2Former models");
    segkit::require_model_family(args.bench.model, "sam");  // before the timed load
    segkit::SamBenchResult r = segkit::run_sam_bench(args.bench, args.common.quiet ? nullptr : &log_line);
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
        {"machine", machine_json()}};
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
