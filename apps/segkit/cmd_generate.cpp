// `segkit generate`: segment everything (upstream SamAutomaticMaskGenerator / scripts/amg.py)
// on one image or on every image of a folder.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "folder_run.h"
#include "image_folder.h"
#include "progress_bar.h"
#include "shards.h"
#include "core/stale_temporaries.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/sam_generator.h"

namespace fs = std::filesystem;

namespace {

struct GenerateOptions {
  segkit::cli::CommonOptions common;
  std::string model, image, input, out, output_mode = "binary_mask", overlay, shard;
  segkit::cli::LoadArgs load;
  segkit::SamGeneratorParams params;
  bool json = false;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Where one image's result goes: binary masks as scripts/amg.py's folder, RLEs as one JSON file
// (a path ending in .json is always a JSON file).
struct Target {
  std::string path;
  bool folder;
  std::string done_marker() const { return folder ? path + "/metadata.csv" : path; }
};

Target target_for(const std::string& base, segkit::MaskOutputMode mode) {
  if (ends_with(base, ".json")) return {base, false};
  if (mode == segkit::MaskOutputMode::BinaryMask) return {base, true};
  return {base + ".json", false};
}

void write_result(const Target& target, const std::vector<segkit::SamMaskRecord>& records, segkit::MaskOutputMode mode) {
  if (target.folder) {
    segkit::write_mask_folder(target.path, records);  // metadata.csv last: its presence marks a finished folder
  } else {
    const fs::path parent = fs::path(target.path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    segkit::write_text_atomically(target.path, segkit::mask_records_to_json(records, mode));
  }
}

void save_overlay(const std::string& path, const segkit::Image& image, const std::vector<segkit::SamMaskRecord>& records) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  segkit::save_png(path, segkit::render_mask_overlay(image, records));
}

void run_one(const GenerateOptions& o, segkit::SamMaskGenerator& generator, segkit::MaskOutputMode mode) {
  const segkit::Image image = segkit::load_image(o.image);
  const segkit::cli::ProgressBar bar(1, o.common.quiet || o.json);
  const std::string name = fs::path(o.image).filename().string();
  const auto records = generator.generate(image, [&](double fraction) {
    bar.update_fraction(fraction, name);
    return true;
  });
  bar.finish();
  write_result(target_for(o.out, mode), records, mode);
  if (!o.overlay.empty()) save_overlay(o.overlay, image, records);
  const auto& t = generator.last_timings();
  if (o.json) {
    std::cout << nlohmann::json{{"image", o.image}, {"masks", records.size()}, {"encoder_s", t.encoder},
                                {"decoder_s", t.decoder}, {"postprocess_s", t.postprocess}}
                     .dump()
              << "\n";
  } else if (!o.common.quiet) {
    std::cout << o.image << ": " << records.size() << " masks\n";
  }
}

void run_folder(const GenerateOptions& o, segkit::SamMaskGenerator& generator, segkit::MaskOutputMode mode,
                const segkit::cli::Shard& shard) {
  const std::vector<fs::path> all = segkit::cli::list_images(o.input);
  const std::vector<std::string> all_bases = segkit::cli::output_bases(all);
  std::vector<segkit::cli::FolderFile> files;
  std::vector<Target> targets;
  std::vector<std::string> bases;
  for (size_t i = 0; i < all.size(); ++i)
    if (shard.takes(i)) {
      bases.push_back(all_bases[i]);
      targets.push_back(target_for((fs::path(o.out) / all_bases[i]).string(), mode));
      files.push_back({all[i], targets.back().done_marker(), ""});
    }
  std::error_code ec;

  fs::create_directories(o.out, ec);
  if (ec) segkit::fail(o.out, "cannot create folder: " + ec.message());
  // A run killed outright may have left temporaries; an interrupted one removes its own.
  segkit::remove_stale_temporaries(o.out);
  if (!o.overlay.empty()) segkit::remove_stale_temporaries(o.overlay);
  size_t masks = 0;
  const auto start = std::chrono::steady_clock::now();
  const segkit::cli::FolderRun run = segkit::cli::run_folder(files, o.common.quiet || o.json, [&](size_t i) {
    const Target& target = targets[i];
    if (target.folder) segkit::remove_stale_temporaries(target.path);
    const segkit::Image image = segkit::load_image(files[i].file.string());
    const auto records = generator.generate(image);
    write_result(target, records, mode);
    if (!o.overlay.empty()) save_overlay((fs::path(o.overlay) / (bases[i] + ".png")).string(), image, records);
    masks += records.size();
  });
  if (shard.active()) segkit::cli::write_shard_manifest(o.out, shard, "generate", o.input, run.record, nullptr);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.json) {
    std::cout << nlohmann::json{{"images", files.size()}, {"generated", run.done}, {"skipped", run.skipped}, {"failed", run.failed},
                                {"masks", masks}, {"seconds", seconds}}
                     .dump()
              << "\n";
  } else if (!o.common.quiet) {
    std::printf("%zu images%s: %zu generated (%zu masks), %zu already done, %zu failed, %.1f s\n", files.size(),
                shard.active() ? (" in shard " + shard.name()).c_str() : "", run.done, masks, run.skipped, run.failed, seconds);
  }
  if (run.failed) segkit::fail(o.input, std::to_string(run.failed) + " of " + std::to_string(files.size()) + " images failed");
}

GenerateOptions opts;

}  // namespace

SEGKIT_COMMAND("generate", "Segment everything: SAM's automatic mask generator on an image or a folder", [](CLI::App& cmd) {
  auto& p = opts.params;
  cmd.add_option("-m,--model", opts.model, "SAM model: HF folder, repo id in the local cache, .safetensors or .pth")->required();
  auto* image = cmd.add_option("-i,--image", opts.image, "One image")->check(CLI::ExistingFile);
  auto* input = cmd.add_option("--input", opts.input, "A folder: every image in it (resumable)")->check(CLI::ExistingDirectory);
  image->excludes(input);
  cmd.add_option("-o,--out", opts.out,
                 "Output: OUT/ (binary_mask: a PNG per mask + metadata.csv) or OUT.json (RLE modes); "
                 "with --input, a folder holding one such output per image")
      ->required();
  // One option per generator parameter, named after upstream's keyword (points_per_side: --points-per-side).
  for (const auto& f : segkit::sam_generator_param_fields()) {
    std::string flag = std::string("--") + f.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    auto* option = f.int_member ? cmd.add_option(flag, p.*f.int_member, f.help) : cmd.add_option(flag, p.*f.double_member, f.help);
    option->capture_default_str();
  }
  cmd.add_option("--output-mode", opts.output_mode, "binary_mask, uncompressed_rle or coco_rle")
      ->check(CLI::IsMember({"binary_mask", "uncompressed_rle", "coco_rle"}))
      ->capture_default_str();
  cmd.add_option("--overlay", opts.overlay, "Also write the image with every mask coloured (with --input: a folder)");
  cmd.add_option("--shard", opts.shard,
                 "With --input: only shard K of N of the folder (K/N from 0, or env: the launcher's RANK/WORLD_SIZE, "
                 "Slurm or Open MPI variables); then segkit merge OUT");
  cmd.add_flag("--json", opts.json, "Print the result summary as JSON");
  segkit::cli::add_load_options(cmd, opts.load);
  segkit::cli::add_common_options(cmd, opts.common);
  cmd.callback([] {
    segkit::cli::apply_common_options(opts.common);
    if (opts.image.empty() == opts.input.empty()) segkit::fail("generate", "give exactly one of --image or --input");
    if (!opts.shard.empty() && opts.input.empty()) segkit::fail("--shard", "works with --input (a folder)");
    const segkit::cli::Shard shard = opts.shard.empty() ? segkit::cli::Shard{} : segkit::cli::parse_shard(opts.shard);
    try {  // before the model loads, named as on the command line
      opts.params.validate();
    } catch (const segkit::Error& e) {
      std::string message = e.what();
      const size_t colon = message.find(':');
      std::replace(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(colon), '_', '-');
      throw segkit::Error("--" + message);
    }
    const auto mode = segkit::parse_mask_output_mode(opts.output_mode);
    auto model = segkit::cli::load_sam_model(opts.model, opts.load);
    segkit::SamMaskGenerator generator(model, opts.params);
    if (!opts.image.empty()) run_one(opts, generator, mode);
    else run_folder(opts, generator, mode, shard);
  });
});
