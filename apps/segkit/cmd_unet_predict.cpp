// `segkit unet predict`: label PNGs (and probabilities, overlays) for one image or a folder.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cmd_unet.h"
#include "command.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "segkit/unet.h"

namespace fs = std::filesystem;

namespace segkit::cli {

namespace {

struct PredictFlags {
  CommonOptions common;
  std::string model, image, input, out;
  UNetPredictOptions options;
  bool overlay = false, json = false;
};

// Class colours for overlays (class 0 included: it is often the foreground, as in ISBI).
const uint8_t kPalette[][3] = {{230, 25, 75},  {60, 180, 75},   {255, 225, 25}, {0, 130, 200},
                               {245, 130, 48}, {145, 30, 180},  {70, 240, 240}, {240, 50, 230},
                               {210, 245, 60}, {250, 190, 212}, {0, 128, 128},  {170, 110, 40}};

void write_outputs(const PredictFlags& f, const std::string& image_path, const UNetModel& model) {
  const Image image = load_image(image_path);
  const UNetPrediction p = unet_predict(model, image, f.options);
  const std::string stem = fs::path(image_path).stem().string();
  const std::string base = (fs::path(f.out) / stem).string();
  std::vector<uint8_t> labels(p.labels.begin(), p.labels.end());
  save_png(base + ".png", labels.data(), p.width, p.height, 1);
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
  if (f.json) std::cout << nlohmann::json{{"image", image_path}, {"labels", base + ".png"}}.dump() << "\n";
}

}  // namespace

void add_unet_predict(CLI::App& unet) {
  auto f = std::make_shared<PredictFlags>();
  CLI::App* cmd = unet.add_subcommand("predict", "Segment images with a trained U-Net");
  cmd->add_option("-m,--model", f->model, "Checkpoint (RUN/best.safetensors)")->required();
  auto* image = cmd->add_option("-i,--image", f->image, "One image");
  auto* input = cmd->add_option("--input", f->input, "A folder of images");
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
  add_common_options(*cmd, f->common);
  cmd->callback([f] {
    apply_common_options(f->common);
    if (f->image.empty() && f->input.empty()) fail("--image/--input", "give one image or a folder of images");
    std::vector<std::string> images;
    if (!f->image.empty()) {
      images.push_back(f->image);
    } else {
      std::error_code ec;
      if (!fs::is_directory(f->input, ec)) fail(f->input, "folder not found");
      for (const auto& e : fs::directory_iterator(f->input))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') images.push_back(e.path().string());
      std::sort(images.begin(), images.end());
      if (images.empty()) fail(f->input, "no images");
    }
    auto model = UNetModel::load(require_model_family(f->model, "unet").weights);
    std::error_code ec;
    fs::create_directories(f->out, ec);
    if (ec) fail(f->out, "cannot create output folder: " + ec.message());
    for (const auto& path : images) write_outputs(*f, path, *model);
    if (!f->common.quiet && !f->json) std::cerr << "segmented " << images.size() << " image(s) into " << f->out << "\n";
  });
}

}  // namespace segkit::cli
