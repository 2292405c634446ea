#include "models/sam3/bench.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "core/bench_timing.h"
#include "models/sam3/model.h"
#include "models/sam3/preprocess.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/machine.h"
#include "segkit/safetensors.h"

namespace segkit::sam3 {

namespace {

using bench::now_ms;
using bench::process_cpu_ms;

// Phrases of one to three words, as people ask; the first is the one-phrase measurement.
const char* const kPhrases[] = {"yellow truck", "person", "dog",        "red car",   "bicycle wheel", "traffic light",
                                "tree",         "window", "blue sky",   "cat",       "white building", "shadow",
                                "road sign",    "bus",    "green grass", "handbag"};
constexpr int kPhraseCount = sizeof(kPhrases) / sizeof(kPhrases[0]);

BenchTiming timed(int repeat, const std::function<void()>& run) {
  BenchTiming t;
  std::optional<double> cpu;
  t.ms = bench::median_ms(repeat, run, cpu);
  t.cpu_ms = *cpu;
  return t;
}

// The float values in model.safetensors that the image model reads (the video checkpoint's
// tracker left out), from the header alone.
int64_t count_parameters(const std::string& folder) {
  const auto file = SafetensorsFile::open((std::filesystem::path(folder) / "model.safetensors").string());
  int64_t n = 0;
  for (const std::string& name : file->names()) {
    if (name.rfind("tracker_model.", 0) == 0 || name.rfind("tracker_neck.", 0) == 0) continue;
    const TensorView& v = file->get(name);
    if (v.dtype == DType::F32 || v.dtype == DType::F16 || v.dtype == DType::BF16 || v.dtype == DType::F64) n += v.numel();
  }
  return n;
}

// `groups` lists the phrase batches of one pass (one batch of 16, or 16 batches of 1): each part
// is timed on its own and summed over the batches; one warm-up pass, then medians.
PhraseTiming time_phrases(const BenchOptions& o, const Model& model, const ImageFeatures& image,
                          const std::vector<std::vector<std::string>>& groups, const ImageSize& size) {
  c10::InferenceMode guard;
  PhraseTiming t;
  for (const auto& g : groups) t.phrases += static_cast<int>(g.size());
  std::vector<double> wall[4], cpu[4];
  for (int i = 0; i <= o.repeat; ++i) {
    double sums[3] = {0, 0, 0}, cpu_sums[3] = {0, 0, 0};
    int64_t instances = 0;
    for (const auto& phrases : groups) {
      double start = now_ms(), cpu_start = process_cpu_ms();
      auto lap = [&](int part) {
        sums[part] += now_ms() - start;
        cpu_sums[part] += process_cpu_ms() - cpu_start;
        start = now_ms();
        cpu_start = process_cpu_ms();
      };
      const TextFeatures text = model.encode_text(phrases);
      lap(0);
      const RawOutputs raw = model.detect(image, text);
      lap(1);
      const std::vector<Instances> found =
          model.postprocess(raw, o.threshold, o.mask_threshold, std::vector<ImageSize>(phrases.size(), size));
      lap(2);
      for (const Instances& r : found) instances += r.scores.numel();
    }
    t.instances = instances;
    if (i == 0) continue;  // the warm-up
    for (int p = 0; p < 3; ++p) {
      wall[p].push_back(sums[p]);
      cpu[p].push_back(cpu_sums[p]);
    }
    wall[3].push_back(sums[0] + sums[1] + sums[2]);
    cpu[3].push_back(cpu_sums[0] + cpu_sums[1] + cpu_sums[2]);
  }
  BenchTiming* out[4] = {&t.text, &t.detect, &t.postprocess, &t.total};
  for (int p = 0; p < 4; ++p) *out[p] = {bench::median(wall[p]), bench::median(cpu[p])};
  return t;
}

}  // namespace

std::string describe(const Sam3Config& c) {
  const ViTConfig& v = c.vision.backbone;
  return "sam3 vit " + std::to_string(v.num_hidden_layers) + "x" + std::to_string(v.hidden_size) + " " +
         std::to_string(v.image_size) + "px, text " + std::to_string(c.text.num_layers) + "x" +
         std::to_string(c.text.hidden_size) + ", detr " + std::to_string(c.detr_encoder.num_layers) + "+" +
         std::to_string(c.detr_decoder.num_layers) + "x" + std::to_string(c.detr_decoder.hidden_size) + ", " +
         std::to_string(c.detr_decoder.num_queries) + " queries";
}

BenchResult run_bench(const BenchOptions& o, void (*log)(const std::string&)) {
  if (o.repeat < 1) fail("--repeat", "must be at least 1");
  if (o.phrases < 1 || o.phrases > kPhraseCount)
    fail("phrases", "must be 1 to " + std::to_string(kPhraseCount) + ", not " + std::to_string(o.phrases));
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  BenchResult r;
  const Image image = load_image(o.image);
  r.image_height = image.height;
  r.image_width = image.width;
  const ImageSize size{image.height, image.width};

  say("loading " + o.model);
  std::optional<Model> model;
  r.load_peak_rss_mb = bench::phase_peak(r.peak_rss_mb, [&] {
    const double start = now_ms();  // once: a second load would find the file in the page cache
    model.emplace(Model::load(o.model));
    if (o.bf16) model->use_bfloat16();
    else model->pack_float32();
    r.load_ms = now_ms() - start;
  });
  const Model& m = *model;
  r.precision = o.bf16 ? "bf16" : "fp32";
  r.config = m.config();
  r.parameter_count = count_parameters(o.model);
  r.vision_macs = count_vision_macs(r.config);
  r.phrase_macs = count_phrase_macs(r.config);

  at::Tensor pixels;
  r.preprocess = timed(o.repeat, [&] {
    c10::InferenceMode guard;
    pixels = preprocess_image(image, m.processor_config());
  });
  r.input_size = static_cast<int>(pixels.size(2));

  say("image encoding");
  ImageFeatures features;
  r.image_encoding_peak_rss_mb = bench::phase_peak(r.peak_rss_mb, [&] {
    r.image_encoding = timed(o.repeat, [&] {
      c10::InferenceMode guard;
      features = m.encode_image(pixels);
      features.mask_skips = m.mask_skips(features);  // as a server keeps them for many phrases
    });
  });

  if (o.encoding_only) {
    r.peak_rss_mb = std::max(r.peak_rss_mb, peak_rss_mb());
    return r;
  }
  const std::vector<std::string> all(kPhrases, kPhrases + o.phrases);
  say("1 phrase");
  std::optional<double> peak =
      bench::phase_peak(r.peak_rss_mb, [&] { r.one_phrase = time_phrases(o, m, features, {{all[0]}}, size); });
  r.one_phrase->peak_rss_mb = peak;
  say(std::to_string(o.phrases) + " phrases in one batch");
  peak = bench::phase_peak(r.peak_rss_mb, [&] { r.batch = time_phrases(o, m, features, {all}, size); });
  r.batch->peak_rss_mb = peak;
  say(std::to_string(o.phrases) + " phrases one at a time");
  std::vector<std::vector<std::string>> singles;
  for (const std::string& p : all) singles.push_back({p});
  peak = bench::phase_peak(r.peak_rss_mb, [&] { r.sequential = time_phrases(o, m, features, singles, size); });
  r.sequential->peak_rss_mb = peak;
  r.peak_rss_mb = std::max(r.peak_rss_mb, peak_rss_mb());
  return r;
}

}  // namespace segkit::sam3
