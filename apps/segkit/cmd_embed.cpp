// `segkit embed`: run SAM's (or SAM 3's) image encoder once and keep the embedding for later prompts.
#include <iostream>

#include "command.h"
#include "sam3_commands.h"
#include "segkit/error.h"
#include "segkit/sam.h"

namespace {
struct EmbedArgs {
  std::string model, image, out;
  segkit::cli::LoadArgs load;
  segkit::cli::CommonOptions common;
} args;
}  // namespace

SEGKIT_COMMAND("embed", "Compute a SAM or SAM 3 image embedding and save it (prompt it later with predict --embedding)", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
  cmd.add_option("-i,--image", args.image, "Input image")->required();
  cmd.add_option("-o,--out", args.out, "Output embedding file (.safetensors)")->required();
  segkit::cli::add_load_options(cmd, args.load);
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback([] {
    segkit::cli::apply_common_options(args.common);
    if (segkit::inspect_model(args.model).family == "sam3")
      return segkit::cli::embed_sam3(args.model, args.load, args.image, args.out, args.common.quiet);
    auto model = segkit::cli::load_sam_model(args.model, args.load);
    segkit::SamPredictor predictor(model);
    predictor.set_image(segkit::load_image(args.image));
    predictor.embedding().save(args.out);
    if (!args.common.quiet) std::cout << "wrote " << args.out << "\n";
  });
});
