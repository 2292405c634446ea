// `segkit pull ORG/NAME`: download a model from the Hugging Face hub into the local cache,
// where `--model ORG/NAME` then finds it offline.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "hub/hub_cache.h"
#include "hub/hub_download.h"

namespace {
struct PullArgs {
  std::string repo;
  std::string revision = "main";
  std::string cache_dir;
  bool all_files = false;
  bool quiet = false;
  bool json = false;
};
PullArgs args;
}  // namespace

SEGKIT_COMMAND("pull", "Download a model from the Hugging Face hub into the local cache", [](CLI::App& cmd) {
  cmd.add_option("repo", args.repo, "Repository id ORG/NAME, e.g. facebook/sam-vit-base")->required();
  cmd.add_option("--revision", args.revision, "Branch, tag or commit")->capture_default_str();
  cmd.add_option("--cache-dir", args.cache_dir, "Hub cache folder (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)");
  cmd.add_flag("--all-files", args.all_files,
               "Also download weights in formats segkit does not read (pytorch_model.bin next to safetensors, TF, Flax, ONNX)");
  cmd.add_flag("-q,--quiet", args.quiet, "Print nothing but errors");
  cmd.add_flag("--json", args.json, "Print the result as JSON");
  cmd.footer("Honours HF_ENDPOINT (mirror) and HF_TOKEN (private or gated repositories). Interrupted downloads resume.");
  cmd.callback([] {
    segkit::HubDownloadOptions opts;
    opts.repo_id = args.repo;
    opts.revision = args.revision;
    opts.cache_dir = args.cache_dir;
    opts.all_files = args.all_files;
    opts.progress = !args.quiet && !args.json && ::isatty(2);
    if (!args.quiet && !args.json) opts.log = [](const std::string& line) { std::cerr << line << "\n"; };
    const segkit::HubDownloadResult r = segkit::hub_download(opts);
    if (args.json) {
      std::cout << nlohmann::json{{"repo", args.repo},           {"revision", args.revision},
                                  {"commit", r.commit},          {"snapshot", r.snapshot_dir},
                                  {"files", r.files},            {"bytes_downloaded", r.bytes_downloaded}}
                       .dump()
                << "\n";
    } else if (!args.quiet) {
      std::cout << r.snapshot_dir << "\n";
    }
  });
});
