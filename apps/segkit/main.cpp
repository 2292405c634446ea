// segkit: the command line. Every subcommand registers itself (see command.h); main only
// parses and turns library errors into one-line messages with a non-zero exit.
#include <algorithm>
#include <iostream>
#include <vector>

#include "command.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/model.h"
#include "segkit/threads.h"
#include "segkit/version.h"

namespace segkit::cli {

static std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> specs;
  return specs;
}

CommandRegistrar::CommandRegistrar(CommandSpec spec) { registry().push_back(std::move(spec)); }

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--threads", opts.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd.add_flag("-q,--quiet", opts.quiet, "Print nothing but errors");
  cmd.add_option("--max-pixels", opts.max_pixels,
                 "Refuse images with more pixels than this (default 100000000, or $SEGKIT_MAX_PIXELS)")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--allow-truncated", opts.allow_truncated,
               "Decode images that end early (cut JPEG, WebP, TIFF or BMP files) with a warning instead of refusing them");
}

void add_load_options(CLI::App& cmd, LoadArgs& args, bool bf16) {
  if (bf16)
    cmd.add_option("--precision", args.precision,
                   "Image encoder arithmetic: fp32, bf16 (about twice as fast where the CPU has native bf16, "
                   "masks within about 0.1% of pixels), or auto (bf16 exactly there)")
        ->check(CLI::IsMember({"fp32", "bf16", "auto"}))
        ->capture_default_str();
  else
    cmd.add_option("--precision", args.precision, "Arithmetic: fp32 (this family's only one), or auto (the same)")
        ->check(CLI::IsMember({"fp32", "auto"}))
        ->capture_default_str();
  cmd.add_option("--device", args.device,
                 "Where the model runs: cpu, or cuda / cuda:N in a build against a CUDA LibTorch (docs/cuda.md)")
      ->capture_default_str();
}

LoadOptions LoadArgs::options() const {
  LoadOptions options;
  options.precision = parse_precision(precision);
  options.device = parse_device(device);
  return options;
}

std::shared_ptr<const SamModel> load_sam_model(const std::string& model, const LoadArgs& args) {
  const LoadOptions options = args.options();
  require_model_family(model, "sam");
  return SamModel::load(model, options);
}

void apply_common_options(const CommonOptions& opts) {
  segkit::set_num_threads(opts.threads);
  if (opts.max_pixels > 0) segkit::set_default_max_pixels(opts.max_pixels);
  segkit::set_default_allow_truncated(opts.allow_truncated);
}

}  // namespace segkit::cli

int main(int argc, char** argv) {
  using namespace segkit::cli;
  CLI::App app{"segkit: image segmentation (Segment Anything, U-Net, evaluation) in native C++"};
  app.name("segkit");
  app.set_version_flag("--version", std::string("segkit ") + segkit::version_string());
  app.require_subcommand(1);
  auto& specs = registry();
  std::sort(specs.begin(), specs.end(), [](const CommandSpec& a, const CommandSpec& b) {
    return std::string(a.name) < std::string(b.name);
  });
  for (auto& spec : specs) {
    CLI::App* cmd = app.add_subcommand(spec.name, spec.summary);
    spec.setup(*cmd);
  }
  if (argc == 1) {  // no command: the overview, as a reminder of what there is
    std::cout << app.help();
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Usage errors in the same one-line form as every other error, pointing at the help.
    std::string help = "segkit";
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
      sub = sub->get_subcommands().front();
      help += " " + sub->get_name();
    }
    std::cerr << "segkit: error: " << e.what() << " (see " << help << " --help)\n";
    return 2;
  } catch (const segkit::Error& e) {
    std::cerr << "segkit: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "segkit: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "segkit: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
