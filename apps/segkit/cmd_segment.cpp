// `segkit segment`: semantic, instance or panoptic segmentation with a Mask2Former model, of one
// image or of every image of a folder (resumable), written as files `segkit eval` reads.
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "command.h"
#include "image_folder.h"
#include "progress_bar.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/mask2former.h"
#include "segkit/safetensors.h"
#include "segkit/segmentation_files.h"

namespace fs = std::filesystem;

namespace {

struct SegmentOptions {
  segkit::cli::CommonOptions common;
  segkit::cli::LoadArgs load;
  std::string model, image, input, out, task = "panoptic", raw, image_ids;
  segkit::SegmentationOptions params;
  bool overlay = false, json = false;
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

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// COCO image ids by file stem, from a COCO JSON's "images" list.
std::map<std::string, int64_t> read_image_ids(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(segkit::read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    segkit::fail(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array())
    segkit::fail(path, "no \"images\" list (a COCO JSON gives each file_name its id)");
  std::map<std::string, int64_t> ids;
  for (const auto& image : j["images"]) {
    if (!image.is_object() || !image.contains("id") || !image["id"].is_number_integer() || !image.contains("file_name") ||
        !image["file_name"].is_string())
      segkit::fail(path, "every entry of \"images\" needs an integer \"id\" and a string \"file_name\"");
    ids[fs::path(image["file_name"].get<std::string>()).stem().string()] = image["id"].get<int64_t>();
  }
  return ids;
}

// A COCO image id for each file: from --image-ids, else the stem when it is a number
// (COCO's 000000000139.jpg is 139), else the position in the sorted list from 1.
std::vector<int64_t> image_ids_for(const std::vector<fs::path>& files, const std::string& ids_file) {
  const std::map<std::string, int64_t> given = ids_file.empty() ? std::map<std::string, int64_t>{} : read_image_ids(ids_file);
  const bool numeric = std::all_of(files.begin(), files.end(), [](const fs::path& f) { return all_digits(f.stem().string()); });
  std::vector<int64_t> ids;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string stem = files[i].stem().string();
    if (!ids_file.empty()) {
      const auto it = given.find(stem);
      if (it == given.end()) segkit::fail(ids_file, "no image named like " + files[i].filename().string());
      ids.push_back(it->second);
    } else {
      ids.push_back(numeric ? std::stoll(stem) : static_cast<int64_t>(i + 1));
    }
  }
  return ids;
}

void ensure_folder(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) segkit::fail(folder.string(), "cannot create folder: " + ec.message());
}

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

// The folder-level files, from every image's own: results.json (instance) or panoptic.json.
void write_summary(const Layout& layout, const std::vector<std::string>& bases, const segkit::Mask2FormerModel& model,
                   const std::vector<int>& stuff) {
  if (layout.task == segkit::SegmentationTask::Semantic) {
    segkit::write_text_atomically((layout.out / "labels.json").string(), segkit::label_legend_json(model.labels()));
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& base : bases) {
    const fs::path part = layout.done_marker(base);
    if (!fs::exists(part)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(segkit::read_text_file(part.string()));
    } catch (const nlohmann::json::exception& e) {
      segkit::fail(part.string(), std::string("not valid JSON (delete it to redo the image): ") + e.what());
    }
    if (layout.task == segkit::SegmentationTask::Instance)
      for (auto& r : j) all.push_back(std::move(r));
    else
      all.push_back(std::move(j));
  }
  if (layout.task == segkit::SegmentationTask::Instance) {
    segkit::write_text_atomically((layout.out / "results.json").string(), all.dump() + "\n");
  } else {
    nlohmann::json panoptic{{"annotations", all},
                            {"categories", nlohmann::json::parse(segkit::coco_panoptic_categories_json(model.labels(), stuff))}};
    segkit::write_text_atomically((layout.out / "panoptic.json").string(), panoptic.dump() + "\n");
  }
}

void run() {
  segkit::cli::apply_common_options(opts.common);
  if (opts.image.empty() == opts.input.empty()) segkit::fail("segment", "give exactly one of --image or --input");
  if (!opts.raw.empty() && opts.image.empty()) segkit::fail("--raw", "works with one --image");
  const segkit::SegmentationTask task = segkit::parse_segmentation_task(opts.task);
  const segkit::LoadOptions load = opts.load.options();
  segkit::require_model_family(opts.model, "mask2former");
  const auto model = segkit::Mask2FormerModel::load(opts.model, load);
  for (int label : opts.params.label_ids_to_fuse)
    if (label < 0 || label >= model->config().num_labels())
      segkit::fail("--label-ids-to-fuse", "label " + std::to_string(label) + " is not one of the model's 0.." +
                                               std::to_string(model->config().num_labels() - 1));
  segkit::SegmentationOptions params = opts.params;
  params.transformers_ids = false;  // COCO needs one id per segment
  const std::vector<int>& stuff = params.label_ids_to_fuse;

  const std::vector<fs::path> files = opts.image.empty() ? segkit::cli::list_images(opts.input) : std::vector<fs::path>{opts.image};
  const std::vector<int64_t> ids = image_ids_for(files, opts.image_ids);
  const Layout layout{task, opts.out};
  ensure_folder(layout.out);
  const std::vector<std::string> bases = segkit::cli::output_bases(files);

  size_t done = 0, skipped = 0, failed = 0, segments = 0;
  const auto start = std::chrono::steady_clock::now();
  segkit::cli::ProgressBar bar(files.size(), opts.common.quiet || opts.json);
  for (size_t i = 0; i < files.size(); ++i) {
    bar.update(i, files[i].filename().string());
    if (opts.image.empty() && fs::exists(layout.done_marker(bases[i]))) {
      ++skipped;
      continue;
    }
    try {
      const segkit::Image image = segkit::load_image(files[i].string());
      const segkit::Mask2FormerInput in = model->preprocess(image);
      const segkit::Mask2FormerOutput out = model->forward(in);
      const segkit::Segmentation s = model->postprocess(out, task, params);
      if (!opts.raw.empty()) write_raw(opts.raw, in, out);
      write_image(layout, bases[i], ids[i], image, s, stuff);
      segments += s.segments.size();
      ++done;
    } catch (const segkit::Error& e) {
      if (!opts.image.empty()) throw;
      bar.finish();
      std::cerr << "segkit: warning: skipped " << e.what() << "\n";
      ++failed;
    }
  }
  bar.update(files.size(), "");
  bar.finish();
  write_summary(layout, bases, *model, stuff);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (opts.json) {
    std::cout << nlohmann::json{{"images", files.size()}, {"segmented", done}, {"skipped", skipped}, {"failed", failed},
                                {"segments", segments}, {"seconds", seconds}}
                     .dump()
              << "\n";
  } else if (!opts.common.quiet) {
    std::printf("%zu image(s): %zu segmented (%zu segments), %zu already done, %zu failed, %.1f s\n", files.size(), done,
                segments, skipped, failed, seconds);
  }
  if (failed) segkit::fail(opts.input, std::to_string(failed) + " of " + std::to_string(files.size()) + " images failed");
}

}  // namespace

SEGKIT_COMMAND("segment", "Semantic, instance or panoptic segmentation with a Mask2Former model", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", opts.model, "Mask2Former model: HF folder or repo id in the local cache")->required();
  auto* image = cmd.add_option("-i,--image", opts.image, "One image")->check(CLI::ExistingFile);
  auto* input = cmd.add_option("--input", opts.input, "A folder: every image in it (resumable)")->check(CLI::ExistingDirectory);
  image->excludes(input);
  cmd.add_option("--task", opts.task, "semantic, instance or panoptic")
      ->check(CLI::IsMember({"semantic", "instance", "panoptic"}))
      ->capture_default_str();
  cmd.add_option("-o,--out", opts.out,
                 "Output folder: semantic <name>.png + labels.json; instance instances/<name>.json + results.json; "
                 "panoptic <name>.png + segments/<name>.json + panoptic.json")
      ->required();
  cmd.add_option("--threshold", opts.params.threshold, "Minimum score of a kept query (instance, panoptic)")->capture_default_str();
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
  cmd.add_option("--image-ids", opts.image_ids, "COCO JSON whose \"images\" give each file's image id (default: numeric names, else 1, 2, ...)");
  cmd.add_flag("--json", opts.json, "Print the result summary as JSON");
  segkit::cli::add_load_options(cmd, opts.load);
  segkit::cli::add_common_options(cmd, opts.common);
  cmd.callback(run);
});
