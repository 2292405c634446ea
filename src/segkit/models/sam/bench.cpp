#include "models/sam/bench.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <vector>

#include "core/bench_timing.h"
#include "models/sam/predictor_torch.h"
#include "segkit/error.h"
#include "segkit/machine.h"
#include "segkit/sam_generator.h"

namespace segkit {

using bench::median_ms;
using bench::now_ms;
using bench::phase_peak;

SamBenchResult run_sam_bench(const SamBenchOptions& o, void (*log)(const std::string&)) {
  if (o.repeat < 1) fail("--repeat", "must be at least 1");
  if (!o.only.empty() && o.only != "encoder" && o.only != "decoder" && o.only != "generate")
    fail("--only", "expected encoder, decoder or generate, got '" + o.only + "'");
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  SamBenchResult r;
  const Image image = load_image(o.image);
  r.image_height = image.height;
  r.image_width = image.width;

  LoadOptions load_options = o.load;
  load_options.warn_unused = false;
  say("loading " + o.model);
  std::shared_ptr<const SamModel> model;
  // Loading is timed once: a second load would find the file in the page cache either way.
  double start = now_ms();
  model = SamModel::load(o.model, load_options);
  r.load_ms = now_ms() - start;
  r.config = model->config();
  r.precision = precision_name(model->precision());

  SamPredictor predictor(model);
  if (o.only.empty() || o.only == "encoder") {
    say("image encoder");
    r.encoder_peak_rss_mb = phase_peak(r.peak_rss_mb, [&] {
      r.encoder_ms = median_ms(o.repeat, [&] { predictor.set_image(image); }, r.encoder_cpu_ms);
    });
  } else if (o.only == "decoder") {
    predictor.set_image(image);
  }

  if (o.only.empty() || o.only == "decoder") {
    say("mask decoder");
    SamPrompt prompt;
    prompt.points = {{image.width / 2.0f, image.height / 2.0f}};
    prompt.labels = {1};
    // 64 single-point prompts on an 8×8 grid, as the automatic mask generator batches them.
    std::vector<float> grid;
    for (int i = 0; i < 64; ++i) {
      grid.push_back((i % 8 + 0.5f) / 8 * image.width);
      grid.push_back((i / 8 + 0.5f) / 8 * image.height);
    }
    r.decoder_peak_rss_mb = phase_peak(r.peak_rss_mb, [&] {
      r.decoder_ms = median_ms(o.repeat, [&] { predictor.predict(prompt); }, r.decoder_cpu_ms);
      c10::InferenceMode guard;
      at::Tensor coords = sam::apply_coords(at::from_blob(grid.data(), {64, 1, 2}, at::kFloat), predictor.original_size(),
                                            r.config.image_size);
      at::Tensor labels = at::full({64, 1}, 1, at::kInt);
      r.decoder_batch64_ms = median_ms(
          o.repeat, [&] { sam::decode_low_res(predictor, coords, labels, {}, {}, true); }, r.decoder_batch64_cpu_ms);
    });
  }
  if (o.only.empty() || o.only == "generate") {
    say("automatic mask generator (defaults)");
    SamMaskGenerator generator(model);
    r.generate_peak_rss_mb = phase_peak(r.peak_rss_mb, [&] {
      r.generate_ms = median_ms(o.repeat, [&] { generator.generate(image); }, r.generate_cpu_ms);
    });
  }
  r.peak_rss_mb = std::max(r.peak_rss_mb, peak_rss_mb());
  return r;
}

}  // namespace segkit
