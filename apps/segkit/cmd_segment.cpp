// `segkit segment`: semantic, instance or panoptic segmentation with a Mask2Former model, or
// every instance of phrases (--text) with a SAM 3 model, of one image or of every image of a
// folder (resumable), written as files `segkit eval` reads.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "folder_run.h"
#include "folder_segmenter.h"
#include "image_folder.h"
#include "sam3_commands.h"
#include "shards.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/mask2former.h"
#include "segkit/safetensors.h"
#include "segkit/segmentation_files.h"

namespace fs = std::filesystem;
using segkit::cli::ensure_folder;

namespace {

struct SegmentOptions {
  segkit::cli::CommonOptions common;
  segkit::cli::LoadArgs load;
  std::string model, image, input, out, task = "panoptic", raw, image_ids, shard;
  std::vector<std::string> texts;
  segkit::SegmentationOptions params;
  bool overlay = false, json = false;
  CLI::App* cmd = nullptr;
};

SegmentOptions opts;

// Where each task's files go inside OUT. The last file written for an image marks it done.
struct Layout {
  segkit::SegmentationTask task;
  fs::path out;
  fs::path done_marker(const std::string& base) const {
    switch (task) {
      case segkit::SegmentationTask::Semantic: return out / (base + ".png");
      case segkit::SegmentationTask::Instance: return out / "instances" / (base + ".json");
      case segkit::SegmentationTask::Panoptic: return out / "segments" / (base + ".json");
    }
    return {};
  }
};

void write_raw(const std::string& path, const segkit::Mask2FormerInput& in, const segkit::Mask2FormerOutput& out) {
  const auto& px = in.pixel_values;
  std::vector<int64_t> mask(static_cast<size_t>(px.shape[0] * px.shape[2] * px.shape[3]), 1);
  std::vector<int64_t> class_shape = out.class_logits.shape, mask_shape = out.mask_logits.shape;
  class_shape.insert(class_shape.begin(), 1);
  mask_shape.insert(mask_shape.begin(), 1);
  segkit::write_safetensors(path, {{"pixel_values", segkit::DType::F32, px.shape, px.data.data()},
                                   {"pixel_mask", segkit::DType::I64, {px.shape[0], px.shape[2], px.shape[3]}, mask.data()},
                                   {"class_queries_logits", segkit::DType::F32, class_shape, out.class_logits.data.data()},
                                   {"masks_queries_logits", segkit::DType::F32, mask_shape, out.mask_logits.data.data()}});
}

// One image's files.
void write_image(const Layout& layout, const std::string& base, int64_t image_id,
                 const segkit::Image& image, const segkit::Segmentation& s, const std::vector<int>& stuff) {
  if (opts.overlay) {
    ensure_folder(layout.out / "overlay");
    segkit::save_png((layout.out / "overlay" / (base + ".png")).string(), segkit::render_segmentation_overlay(image, s));
  }
  switch (layout.task) {
    case segkit::SegmentationTask::Semantic:
      segkit::save_semantic_png(layout.done_marker(base).string(), s);
      break;
    case segkit::SegmentationTask::Instance:
      ensure_folder(layout.out / "instances");
      segkit::write_text_atomically(layout.done_marker(base).string(), segkit::coco_instance_results_json(s, image_id) + "\n");
      break;
    case segkit::SegmentationTask::Panoptic: {
      const segkit::PanopticRecord r = segkit::coco_panoptic_record(s, image_id, base + ".png", stuff);
      segkit::save_png((layout.out / (base + ".png")).string(), r.png);
      ensure_folder(layout.out / "segments");
      segkit::write_text_atomically(layout.done_marker(base).string(), r.annotation_json + "\n");
      break;
    }
  }
}

class Mask2FormerSegmenter : public segkit::cli::FolderSegmenter {
 public:
  Mask2FormerSegmenter() : layout_{segkit::parse_segmentation_task(opts.task), opts.out} {
    const segkit::LoadOptions load = opts.load.options();
    segkit::require_model_family(opts.model, "mask2former");
    model_ = segkit::Mask2FormerModel::load(opts.model, load);
    for (int label : opts.params.label_ids_to_fuse)
      if (label < 0 || label >= model_->config().num_labels())
        segkit::fail("--label-ids-to-fuse", "label " + std::to_string(label) + " is not one of the model's 0.." +
                                                 std::to_string(model_->config().num_labels() - 1));
    params_ = opts.params;
    params_.transformers_ids = false;  // COCO needs one id per segment
  }
  fs::path done_marker(const std::string& base) const override { return layout_.done_marker(base); }
  size_t segment(const segkit::cli::ImageJob& job, const segkit::Image& image) override {
    const segkit::Mask2FormerInput in = model_->preprocess(image);
    const segkit::Mask2FormerOutput out = model_->forward(in);
    const segkit::Segmentation s = model_->postprocess(out, layout_.task, params_);
    if (!opts.raw.empty()) write_raw(opts.raw, in, out);
    write_image(layout_, job.base, job.image_id, image, s, params_.label_ids_to_fuse);
    return s.segments.size();
  }
  std::string part(const std::string& base) const override {
    return layout_.task == segkit::SegmentationTask::Semantic ? std::string()
                                                              : fs::relative(done_marker(base), layout_.out).string();
  }
  nlohmann::json folder_info() const override {
    switch (layout_.task) {
      case segkit::SegmentationTask::Semantic:
        return {{"kind", "semantic"}, {"labels_json", segkit::label_legend_json(model_->labels())}};
      case segkit::SegmentationTask::Instance: return {{"kind", "instance"}};
      case segkit::SegmentationTask::Panoptic:
        return {{"kind", "panoptic"},
                {"categories", nlohmann::json::parse(segkit::coco_panoptic_categories_json(model_->labels(),
                                                                                          params_.label_ids_to_fuse))}};
    }
    return {};
  }

 private:
  Layout layout_;
  std::shared_ptr<const segkit::Mask2FormerModel> model_;
  segkit::SegmentationOptions params_;
};

std::unique_ptr<segkit::cli::FolderSegmenter> make_segmenter() {
  const bool sam3 = segkit::inspect_model(opts.model).family == "sam3";
  if (!sam3 && opts.cmd->count("--text")) segkit::fail("--text", "needs a SAM 3 model; " + opts.model + " is not one");
  if (!sam3) return std::make_unique<Mask2FormerSegmenter>();
  if (opts.cmd->count("--task") && opts.task != "instance")
    segkit::fail("--task " + opts.task, "a SAM 3 model segments instances (--task instance)");
  for (const char* option : {"--raw", "--overlap-mask-area-threshold", "--label-ids-to-fuse"})
    if (opts.cmd->count(option))
      segkit::fail(option, "is for Mask2Former; with SAM 3, segkit predict --raw gives the raw outputs");
  segkit::cli::Sam3SegmentArgs a;
  a.model = opts.model;
  a.load = opts.load;
  a.texts = opts.texts;
  a.out = opts.out;
  a.overlay = opts.overlay;
  if (opts.cmd->count("--threshold")) a.options.threshold = opts.params.threshold;
  a.options.mask_threshold = opts.params.mask_threshold;
  return segkit::cli::sam3_folder_segmenter(a);
}

void run() {
  segkit::cli::apply_common_options(opts.common);
  if (opts.image.empty() == opts.input.empty()) segkit::fail("segment", "give exactly one of --image or --input");
  if (!opts.raw.empty() && opts.image.empty()) segkit::fail("--raw", "works with one --image");
  if (!opts.shard.empty() && opts.input.empty()) segkit::fail("--shard", "works with --input (a folder)");
  const segkit::cli::Shard shard = opts.shard.empty() ? segkit::cli::Shard{} : segkit::cli::parse_shard(opts.shard);
  const std::unique_ptr<segkit::cli::FolderSegmenter> segmenter = make_segmenter();

  const std::vector<fs::path> all = opts.image.empty() ? segkit::cli::list_images(opts.input) : std::vector<fs::path>{opts.image};
  const std::vector<int64_t> all_ids = segkit::cli::image_ids_for(all, opts.image_ids);
  const std::vector<std::string> all_bases = segkit::cli::output_bases(all);
  // This shard's files (ids and output names are the whole folder's, so shards agree on them).
  std::vector<segkit::cli::ImageJob> jobs;
  std::vector<segkit::cli::FolderFile> files;
  for (size_t i = 0; i < all.size(); ++i)
    if (shard.takes(i)) {
      jobs.push_back({all[i], all_bases[i], all_ids[i]});
      // One image named on the command line is always segmented.
      files.push_back({all[i], opts.image.empty() ? segmenter->done_marker(all_bases[i]) : fs::path(),
                       segmenter->part(all_bases[i])});
    }
  ensure_folder(opts.out);

  size_t segments = 0;
  const auto start = std::chrono::steady_clock::now();
  const segkit::cli::FolderRun run = segkit::cli::run_folder(
      files, opts.common.quiet || opts.json,
      [&](size_t i) { segments += segmenter->segment(jobs[i], segkit::load_image(jobs[i].file.string())); },
      /*stop_on_error=*/!opts.image.empty());
  if (shard.active()) {
    // The folder-level files wait for every shard: `segkit merge` writes them.
    segkit::cli::write_shard_manifest(opts.out, shard, "segment", opts.input, run.record, segmenter->folder_info());
  } else {
    std::vector<fs::path> parts;
    for (const std::string& base : all_bases) parts.push_back(segmenter->done_marker(base));
    segkit::cli::write_folder_files(opts.out, segmenter->folder_info(), parts);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (opts.json) {
    nlohmann::json j{{"images", jobs.size()}, {"segmented", run.done}, {"skipped", run.skipped}, {"failed", run.failed},
                     {"segments", segments}, {"seconds", seconds}};
    if (shard.active()) j["shard"] = shard.name();
    std::cout << j.dump() << "\n";
  } else if (!opts.common.quiet) {
    std::printf("%zu image(s)%s: %zu segmented (%zu segments), %zu already done, %zu failed, %.1f s\n", jobs.size(),
                shard.active() ? (" in shard " + shard.name()).c_str() : "", run.done, segments, run.skipped, run.failed, seconds);
    if (shard.active()) std::printf("when every shard has finished: segkit merge %s\n", opts.out.c_str());
  }
  if (run.failed) segkit::fail(opts.input, std::to_string(run.failed) + " of " + std::to_string(jobs.size()) + " images failed");
}

}  // namespace

SEGKIT_COMMAND("segment", "Semantic, instance or panoptic segmentation with Mask2Former; instances of phrases with SAM 3", [](CLI::App& cmd) {
  opts.cmd = &cmd;
  cmd.add_option("-m,--model", opts.model, "Mask2Former or SAM 3 model: HF folder or repo id in the local cache")->required();
  auto* image = cmd.add_option("-i,--image", opts.image, "One image")->check(CLI::ExistingFile);
  auto* input = cmd.add_option("--input", opts.input, "A folder: every image in it (resumable)")->check(CLI::ExistingDirectory);
  image->excludes(input);
  cmd.add_option("-t,--text", opts.texts, "SAM 3: a phrase naming what to segment; repeatable (category ids 1, 2, ...)")
      ->take_all();
  cmd.add_option("--task", opts.task, "semantic, instance or panoptic (SAM 3: instance)")
      ->check(CLI::IsMember({"semantic", "instance", "panoptic"}))
      ->capture_default_str();
  cmd.add_option("-o,--out", opts.out,
                 "Output folder: semantic <name>.png + labels.json; instance instances/<name>.json + results.json; "
                 "panoptic <name>.png + segments/<name>.json + panoptic.json; SAM 3 as instance, + categories.json")
      ->required();
  cmd.add_option("--threshold", opts.params.threshold, "Minimum score of a kept query (instance, panoptic; SAM 3: default 0.3)")
      ->capture_default_str();
  cmd.add_option("--mask-threshold", opts.params.mask_threshold, "Mask probability counted as a query's own area (panoptic)")
      ->capture_default_str();
  cmd.add_option("--overlap-mask-area-threshold", opts.params.overlap_mask_area_threshold,
                 "Visible share of its own area a query needs to be kept (panoptic)")
      ->capture_default_str();
  cmd.add_option("--label-ids-to-fuse", opts.params.label_ids_to_fuse,
                 "Labels whose segments merge into one per image, i.e. stuff (panoptic; comma-separated)")
      ->delimiter(',');
  cmd.add_flag("--overlay", opts.overlay, "Also write OUT/overlay/<name>.png: the image with each segment coloured");
  cmd.add_option("--raw", opts.raw, "With --image: write pixel_values, pixel_mask and the last layer's logits here (safetensors)");
  cmd.add_option("--shard", opts.shard,
                 "With --input: only shard K of N of the folder (K/N from 0, or env: the launcher's RANK/WORLD_SIZE, "
                 "Slurm or Open MPI variables); then segkit merge OUT");
  cmd.add_option("--image-ids", opts.image_ids, "COCO JSON whose \"images\" give each file's image id (default: numeric names, else 1, 2, ...)");
  cmd.add_flag("--json", opts.json, "Print the result summary as JSON");
  segkit::cli::add_load_options(cmd, opts.load);
  segkit::cli::add_common_options(cmd, opts.common);
  cmd.callback(run);
});
