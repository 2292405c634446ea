#include "models/mask2former/bench.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "core/bench_timing.h"
#include "models/device.h"
#include "models/mask2former/model_impl.h"
#include "models/mask2former/preprocess.h"
#include "segkit/error.h"
#include "segkit/machine.h"

namespace segkit {

namespace {

using bench::now_ms;
using bench::process_cpu_ms;

// "800x1216" → {800, 1216}; network inputs must be multiples of 32.
std::pair<int, int> parse_size(const std::string& s) {
  size_t x = s.find('x');
  int h = 0, w = 0;
  size_t used_h = 0, used_w = 0;
  try {
    if (x != std::string::npos) {
      h = std::stoi(s.substr(0, x), &used_h);
      w = std::stoi(s.substr(x + 1), &used_w);
    }
  } catch (const std::exception&) {
  }
  if (x == std::string::npos || used_h != x || used_w != s.size() - x - 1 || h <= 0 || w <= 0 || h % 32 || w % 32)
    fail("--size", "expected 'processor' or HEIGHTxWIDTH in positive multiples of 32 (e.g. 800x1216), got '" + s + "'");
  return {h, w};
}

Mask2FormerTiming timed(int repeat, const std::function<void()>& run) {
  Mask2FormerTiming t;
  std::optional<double> cpu;
  t.ms = bench::median_ms(repeat, run, cpu);
  t.cpu_ms = *cpu;
  return t;
}

// The three network stages in one pass, each timed on its own: one warm-up, then medians.
void time_stages(int repeat, const Mask2FormerModel& model, const at::Tensor& pixel_values, Mask2FormerBenchRun& run) {
  c10::InferenceMode guard;
  const auto& m = mask2former::Internals::of(model);
  const at::Tensor input = models::to_device(pixel_values, m.device);  // once, outside the timings
  std::vector<double> wall[3], cpu[3];
  for (int i = 0; i <= repeat; ++i) {
    double start = now_ms(), cpu_start = process_cpu_ms();
    auto lap = [&](int stage) {
      if (i > 0) {  // run 0 is the warm-up
        wall[stage].push_back(now_ms() - start);
        cpu[stage].push_back(process_cpu_ms() - cpu_start);
      }
      start = now_ms();
      cpu_start = process_cpu_ms();
    };
    const std::vector<at::Tensor> features = m.backbone(input);
    lap(0);
    const mask2former::PixelDecoderOutput pixels = m.pixel_decoder(features);
    lap(1);
    m.transformer_decoder(pixels.multi_scale, pixels.mask_features);
    lap(2);
  }
  Mask2FormerTiming* out[3] = {&run.backbone, &run.pixel_decoder, &run.transformer_decoder};
  for (int s = 0; s < 3; ++s) *out[s] = {bench::median(wall[s]), bench::median(cpu[s])};
}

Mask2FormerBenchRun bench_size(const Mask2FormerBenchOptions& o, const Mask2FormerModel& model, const Image& image,
                               const std::string& size) {
  Mask2FormerBenchRun run;
  run.size = size;
  Mask2FormerProcessorConfig processor = model.processor();
  if (size != "processor") {
    const auto [h, w] = parse_size(size);
    processor.do_resize = true;
    processor.height = h;
    processor.width = w;
  }
  at::Tensor pixel_values;
  run.preprocess = timed(o.repeat, [&] {
    c10::InferenceMode guard;
    pixel_values = mask2former::preprocess_image(image, processor);
  });
  run.height = static_cast<int>(pixel_values.size(2));
  run.width = static_cast<int>(pixel_values.size(3));
  run.macs = mask2former::count_macs(model.config(), run.height, run.width);

  Mask2FormerInput input;
  input.pixel_values.shape.assign(pixel_values.sizes().begin(), pixel_values.sizes().end());
  input.pixel_values.data.assign(pixel_values.data_ptr<float>(), pixel_values.data_ptr<float>() + pixel_values.numel());
  input.original_height = image.height;
  input.original_width = image.width;
  time_stages(o.repeat, model, pixel_values, run);
  Mask2FormerOutput output;
  run.forward = timed(o.repeat, [&] { output = model.forward(input); });
  for (SegmentationTask task : {SegmentationTask::Semantic, SegmentationTask::Instance, SegmentationTask::Panoptic})
    run.postprocess[segmentation_task_name(task)] = timed(o.repeat, [&] { model.postprocess(output, task); });
  return run;
}

}  // namespace

Mask2FormerBenchResult run_mask2former_bench(const Mask2FormerBenchOptions& o, void (*log)(const std::string&)) {
  if (o.repeat < 1) fail("--repeat", "must be at least 1");
  if (o.sizes.empty()) fail("--size", "needs at least one size");
  for (const std::string& s : o.sizes)
    if (s != "processor") parse_size(s);  // refuse a bad size before the long runs
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  Mask2FormerBenchResult r;
  const Image image = load_image(o.image);
  r.image_height = image.height;
  r.image_width = image.width;

  LoadOptions load_options = o.load;
  load_options.warn_unused = false;
  say("loading " + o.model);
  const double start = now_ms();  // once: a second load would find the file in the page cache
  const std::shared_ptr<const Mask2FormerModel> model = Mask2FormerModel::load(o.model, load_options);
  r.load_ms = now_ms() - start;
  r.config = model->config();
  r.parameter_count = model->info().parameter_count;
  r.precision = precision_name(model->precision());

  for (const std::string& size : o.sizes) {
    say("input size " + size);
    Mask2FormerBenchRun run;
    const std::optional<double> peak = bench::phase_peak(r.peak_rss_mb, [&] { run = bench_size(o, *model, image, size); });
    run.peak_rss_mb = peak;
    r.runs.push_back(std::move(run));
  }
  r.peak_rss_mb = std::max(r.peak_rss_mb, peak_rss_mb());
  return r;
}

}  // namespace segkit
