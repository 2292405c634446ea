// `segkit predict`: masks for point, box and mask prompts on an image or a saved embedding;
// with a SAM 3 model, every instance that phrases (--text) and exemplar boxes name.
#include <iostream>

#include "command.h"
#include "prompt_args.h"
#include "sam3_commands.h"
#include "segkit/error.h"
#include "segkit/overlay.h"
#include "segkit/sam.h"
#include "segkit/sam_output.h"

namespace {
struct PredictArgs {
  std::string model, image, embedding, mask_input, out, overlay, raw;
  segkit::cli::LoadArgs load;
  std::vector<std::string> points, boxes, texts;
  segkit::Sam3Options sam3;
  bool single_mask = false, logits = false, json = false;
  segkit::cli::CommonOptions common;
  CLI::App* cmd = nullptr;
} args;

bool given(const char* option) { return args.cmd->count(option) > 0; }

void run_sam3() {
  using namespace segkit;
  for (const char* sam_only : {"--point", "--mask-input", "--single-mask", "--logits"})
    if (given(sam_only)) throw Error(std::string(sam_only) + " is a SAM prompt; a SAM 3 model takes --text and --box");
  cli::Sam3PredictArgs a;
  a.model = args.model;
  a.image = args.image;
  a.embedding = args.embedding;
  a.out = args.out;
  a.overlay = args.overlay;
  a.raw = args.raw;
  a.load = args.load;
  a.texts = args.texts;
  a.boxes = args.boxes;
  a.options = args.sam3;
  a.json = args.json;
  a.quiet = args.common.quiet;
  cli::predict_sam3(a);
}

void run() {
  using namespace segkit;
  cli::apply_common_options(args.common);
  if (inspect_model(args.model).family == "sam3") return run_sam3();
  for (const char* sam3_only : {"--text", "--threshold", "--mask-threshold", "--raw"})
    if (given(sam3_only)) throw Error(std::string(sam3_only) + " needs a SAM 3 model; " + args.model + " is not one");
  if (args.boxes.size() > 1) throw Error("--box: a SAM model takes one box (SAM 3 takes several)");
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
  if (!args.boxes.empty()) prompt.box = cli::parse_box(args.boxes.front());
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

SEGKIT_COMMAND("predict", "Segment with SAM from point, box and mask prompts, or with SAM 3 from words", [](CLI::App& cmd) {
  args.cmd = &cmd;
  cmd.add_option("-m,--model", args.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
  cmd.add_option("-i,--image", args.image, "Input image");
  cmd.add_option("-e,--embedding", args.embedding, "Embedding from `segkit embed` instead of an image");
  cmd.add_option("-p,--point", args.points, "Point X,Y[,LABEL] in image pixels; LABEL 1 = foreground (default), 0 = background")
      ->take_all();
  cmd.add_option("-b,--box", args.boxes,
                 "Box X0,Y0,X1,Y1 in image pixels; SAM 3: exemplar boxes X0,Y0,X1,Y1[,LABEL] (1 positive, default; "
                 "0 negative), repeatable, alone or with --text");
  cmd.add_option("-t,--text", args.texts, "SAM 3: a phrase naming what to segment (\"yellow truck\"); repeatable")
      ->take_all();
  cmd.add_option("--threshold", args.sam3.threshold, "SAM 3: keep instances scoring above this")->capture_default_str();
  cmd.add_option("--mask-threshold", args.sam3.mask_threshold, "SAM 3: mask probability a pixel needs")
      ->capture_default_str();
  cmd.add_option("--raw", args.raw,
                 "SAM 3: also write the raw outputs (pred_logits, pred_boxes, presence_logits, pred_masks, "
                 "semantic_seg) to this .safetensors");
  cmd.add_option("--mask-input", args.mask_input, "Low-res logits (.safetensors: mask_input, or an earlier prediction)");
  cmd.add_flag("--single-mask", args.single_mask, "One mask instead of three candidates");
  cmd.add_flag("--logits", args.logits, "Also store the full-size mask logits (with a .safetensors output)");
  cmd.add_option("-o,--out", args.out, "OUT.safetensors, OUT.json, or a folder OUT/ of PNGs")->required();
  cmd.add_option("--overlay", args.overlay, "Draw the best mask (SAM 3: every instance) and the prompts on the image into this PNG");
  cmd.add_flag("--json", args.json, "Print the mask records as JSON");
  segkit::cli::add_load_options(cmd, args.load);
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback(run);
});
