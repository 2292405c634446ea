// `segkit predict`: masks for point, box and mask prompts on an image or a saved embedding.
#include <iostream>

#include "command.h"
#include "prompt_args.h"
#include "segkit/error.h"
#include "segkit/overlay.h"
#include "segkit/sam.h"
#include "segkit/sam_output.h"

namespace {
struct PredictArgs {
  std::string model, image, embedding, mask_input, out, overlay;
  segkit::cli::LoadArgs load;
  std::vector<std::string> points;
  std::string box;
  bool single_mask = false, logits = false, json = false;
  segkit::cli::CommonOptions common;
} args;

void run() {
  using namespace segkit;
  cli::apply_common_options(args.common);
  if (args.image.empty() == args.embedding.empty()) throw Error("give exactly one of --image or --embedding");
  if (!args.overlay.empty() && args.image.empty()) throw Error("--overlay needs --image");
  auto model = cli::load_sam_model(args.model, args.load);
  SamPredictor predictor(model);
  Image image;
  if (!args.image.empty()) {
    image = load_image(args.image);
    predictor.set_image(image);
  } else {
    try {
      predictor.set_embedding(SamEmbedding::load(args.embedding));
    } catch (const Error& e) {
      // Errors from set_embedding do not know the file; name it.
      std::string what = e.what();
      if (what.rfind(args.embedding, 0) == 0) throw;
      fail(args.embedding, what);
    }
  }
  SamPrompt prompt;
  for (const auto& p : args.points) {
    cli::PointArg pt = cli::parse_point(p);
    prompt.points.push_back({pt.x, pt.y});
    prompt.labels.push_back(pt.label);
  }
  if (!args.box.empty()) prompt.box = cli::parse_box(args.box);
  if (!args.mask_input.empty()) prompt.mask_input = load_mask_input(args.mask_input, model->config().low_res_size());
  prompt.multimask = !args.single_mask;
  SamPrediction p = predictor.predict(prompt, args.logits);
  save_prediction(p, args.out);
  if (!args.overlay.empty()) {
    const size_t plane = static_cast<size_t>(p.height) * p.width;
    Image pic = overlay_masks(image, {p.masks.data() + p.best() * plane});
    if (prompt.box) draw_box(pic, *prompt.box);
    draw_points(pic, prompt.points, prompt.labels);
    save_png(args.overlay, pic);
  }
  if (args.json) {
    std::cout << prediction_records_json(p);
  } else if (!args.common.quiet) {
    for (int k = 0; k < p.num_masks; ++k)
      std::cout << "mask " << k << ": score " << p.iou_predictions[k] << (k == p.best() ? " (best)" : "") << "\n";
    std::cout << "wrote " << args.out << "\n";
  }
}
}  // namespace

SEGKIT_COMMAND("predict", "Segment with SAM from point, box and mask prompts", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
  cmd.add_option("-i,--image", args.image, "Input image");
  cmd.add_option("-e,--embedding", args.embedding, "Embedding from `segkit embed` instead of an image");
  cmd.add_option("-p,--point", args.points, "Point X,Y[,LABEL] in image pixels; LABEL 1 = foreground (default), 0 = background")
      ->take_all();
  cmd.add_option("-b,--box", args.box, "Box X0,Y0,X1,Y1 in image pixels");
  cmd.add_option("--mask-input", args.mask_input, "Low-res logits (.safetensors: mask_input, or an earlier prediction)");
  cmd.add_flag("--single-mask", args.single_mask, "One mask instead of three candidates");
  cmd.add_flag("--logits", args.logits, "Also store the full-size mask logits (with a .safetensors output)");
  cmd.add_option("-o,--out", args.out, "OUT.safetensors, OUT.json, or a folder OUT/ of PNGs")->required();
  cmd.add_option("--overlay", args.overlay, "Draw the best mask and the prompts on the image into this PNG");
  cmd.add_flag("--json", args.json, "Print the mask records as JSON");
  segkit::cli::add_load_options(cmd, args.load);
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback(run);
});
