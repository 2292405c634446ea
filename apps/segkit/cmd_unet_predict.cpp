// `segkit unet predict`: label PNGs (and probabilities, overlays) for one image or a folder
// (resumable, shardable with --shard K/N).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cmd_unet.h"
#include "command.h"
#include "core/stale_temporaries.h"
#include "folder_run.h"
#include "image_folder.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "segkit/unet.h"
#include "shards.h"

namespace fs = std::filesystem;

namespace segkit::cli {

namespace {

struct PredictFlags {
  CommonOptions common;
  std::string model, image, input, out, shard;
  UNetPredictOptions options;
  bool overlay = false, json = false;
};

// Class colours for overlays (class 0 included: it is often the foreground, as in ISBI).
const uint8_t kPalette[][3] = {{230, 25, 75},  {60, 180, 75},   {255, 225, 25}, {0, 130, 200},
                               {245, 130, 48}, {145, 30, 180},  {70, 240, 240}, {240, 50, 230},
                               {210, 245, 60}, {250, 190, 212}, {0, 128, 128},  {170, 110, 40}};

// The label PNG is written last: where it exists, the image is done (a rerun skips it).
void write_outputs(const PredictFlags& f, const std::string& image_path, const std::string& base_name,
                   const UNetModel& model) {
  const Image image = load_image(image_path);
  const UNetPrediction p = unet_predict(model, image, f.options);
  const std::string base = (fs::path(f.out) / base_name).string();
  std::vector<uint8_t> labels(p.labels.begin(), p.labels.end());
  if (f.options.probabilities)
    write_safetensors(base + ".probabilities.safetensors",
                      {{"probabilities", DType::F32, {p.classes, p.height, p.width}, p.probabilities.data()}},
                      {{"source", image_path}});
  if (f.overlay) {
    std::vector<uint8_t> rgb = image.rgb;
    for (size_t i = 0; i < labels.size(); ++i) {
      const uint8_t* c = kPalette[labels[i] % (sizeof kPalette / sizeof kPalette[0])];
      for (int k = 0; k < 3; ++k) rgb[i * 3 + k] = static_cast<uint8_t>((rgb[i * 3 + k] * 6 + c[k] * 4) / 10);
    }
    save_png(base + ".overlay.png", rgb.data(), p.width, p.height, 3);
  }
  save_png(base + ".png", labels.data(), p.width, p.height, 1);
  if (f.json) std::cout << nlohmann::json{{"image", image_path}, {"labels", base + ".png"}}.dump() << "\n";
}

// Every image of the folder (or of this shard of it): finished ones skipped, a damaged one
// warned about and counted; Error at the end when any failed.
void predict_folder(const PredictFlags& f, const UNetModel& model, const Shard& shard) {
  const std::vector<fs::path> all = list_images(f.input);
  if (all.empty()) fail(f.input, "no images");
  const std::vector<std::string> all_bases = output_bases(all);
  remove_stale_temporaries(f.out);
  std::vector<FolderFile> files;
  std::vector<std::string> bases;
  for (size_t i = 0; i < all.size(); ++i)
    if (shard.takes(i)) {
      files.push_back({all[i], fs::path(f.out) / (all_bases[i] + ".png"), ""});
      bases.push_back(all_bases[i]);
    }
  const FolderRun run = run_folder(files, f.common.quiet || f.json,
                                   [&](size_t i) { write_outputs(f, files[i].file.string(), bases[i], model); });
  const size_t taken = files.size();
  if (shard.active()) write_shard_manifest(f.out, shard, "unet predict", f.input, run.record, nullptr);
  if (!f.common.quiet && !f.json)
    std::cerr << taken << " image(s)" << (shard.active() ? " in shard " + shard.name() : "") << ": " << run.done
              << " segmented into " << f.out << ", " << run.skipped << " already done, " << run.failed << " failed\n";
  if (run.failed) fail(f.input, std::to_string(run.failed) + " of " + std::to_string(taken) + " images failed");
}

}  // namespace

void add_unet_predict(CLI::App& unet) {
  auto f = std::make_shared<PredictFlags>();
  CLI::App* cmd = unet.add_subcommand("predict", "Segment images with a trained U-Net");
  cmd->add_option("-m,--model", f->model, "Checkpoint (RUN/best.safetensors)")->required();
  auto* image = cmd->add_option("-i,--image", f->image, "One image");
  auto* input = cmd->add_option("--input", f->input, "A folder of images (resumable: a rerun skips images whose STEM.png exists)");
  image->excludes(input);
  cmd->add_option("-o,--out", f->out, "Output folder: STEM.png label maps (class index per pixel)")->required();
  cmd->add_option("--tile", f->options.tile, "Tile side in pixels (0 = whole image)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--overlap", f->options.overlap,
                  "Tile overlap in pixels (default: enough for tiles to match the whole-image result)");
  cmd->add_flag("--probabilities", f->options.probabilities, "Also write STEM.probabilities.safetensors (classes×H×W)");
  cmd->add_flag("--tta", f->options.test_time_augmentation,
                "Test-time augmentation: average over the 8 flips and quarter turns (8x slower)");
  cmd->add_flag("--overlay", f->overlay, "Also write STEM.overlay.png (classes coloured over the image)");
  cmd->add_flag("--json", f->json, "Print one JSON line per image");
  cmd->add_option("--shard", f->shard,
                  "With --input: only shard K of N of the folder (K/N from 0, or env: the launcher's RANK/WORLD_SIZE, "
                  "Slurm or Open MPI variables); then segkit merge OUT");
  add_common_options(*cmd, f->common);
  cmd->callback([f] {
    apply_common_options(f->common);
    if (f->image.empty() && f->input.empty()) fail("--image/--input", "give one image or a folder of images");
    if (!f->shard.empty() && f->input.empty()) fail("--shard", "works with --input (a folder)");
    const Shard shard = f->shard.empty() ? Shard{} : parse_shard(f->shard);
    auto model = UNetModel::load(require_model_family(f->model, "unet").weights);
    std::error_code ec;
    fs::create_directories(f->out, ec);
    if (ec) fail(f->out, "cannot create output folder: " + ec.message());
    if (!f->input.empty()) return predict_folder(*f, *model, shard);
    write_outputs(*f, f->image, fs::path(f->image).stem().string(), *model);
    if (!f->common.quiet && !f->json) std::cerr << "segmented 1 image into " << f->out << "\n";
  });
}

}  // namespace segkit::cli
