// `segkit serve`: the HTTP API and browser UI over a SAM model, SAM 3 and Mask2Former models,
// until SIGINT or SIGTERM.
#if SEGKIT_WITH_SERVER
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "command.h"
#include "segkit/error.h"
#include "segkit/mask2former.h"
#include "segkit/sam.h"
#include "segkit/sam3.h"
#include "segkit/server.h"

namespace {
struct ServeArgs {
  std::vector<std::string> models;
  segkit::cli::LoadArgs load;
  segkit::ServerOptions options;
  int cache_mb = 2048;
  int max_upload_mb = 64;
  segkit::cli::CommonOptions common;
} args;

// SIGINT/SIGTERM write a byte to this pipe (the one thing a handler may safely do); a thread
// reading it stops the server outside any signal context.
int stop_pipe[2] = {-1, -1};
volatile sig_atomic_t stop_signal = 0;

void on_stop_signal(int sig) {
  stop_signal = sig;
  char byte = 1;
  ssize_t ignored = ::write(stop_pipe[1], &byte, 1);
  (void)ignored;
}

// "NAME=SOURCE" names a model; anything else is a source named after its last component. A
// source that exists as written is never split, whatever '=' it holds.
segkit::HostedModel load_hosted(const std::string& arg, const segkit::cli::LoadArgs& load) {
  using namespace segkit;
  std::string name, source = arg;
  const size_t eq = arg.find('=');
  std::error_code ec;
  if (eq != std::string::npos && arg.find('/') > eq && !std::filesystem::exists(arg, ec)) {
    name = arg.substr(0, eq);
    source = arg.substr(eq + 1);
    if (name.empty() || source.empty()) throw Error("--model " + arg + ": expected NAME=SOURCE or SOURCE");
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        throw Error("--model " + arg + ": a name is letters, digits, '-', '_' and '.'");
  } else {
    name = model_name_from_source(source);
  }
  const ModelInfo info = inspect_model(source);
  if (info.family == "sam") return {name, cli::load_sam_model(source, load)};
  if (info.family == "mask2former") return {name, Mask2FormerModel::load(source, load.options())};
  if (info.family == "sam3") return {name, Sam3Model::load(source, load.options())};
  throw Error(source + ": this is a " + (info.family_title.empty() ? info.family : info.family_title) +
              " model; segkit serve hosts SAM, SAM 3 and Mask2Former models");
}

void run() {
  using namespace segkit;
  cli::apply_common_options(args.common);
  // The common --max-pixels also bounds uploads; without it the server keeps its own, lower default.
  if (args.common.max_pixels > 0) args.options.limits.max_image_pixels = args.common.max_pixels;
  ServerOptions options = args.options;
  options.limits.cache_bytes = size_t(args.cache_mb) << 20;
  options.limits.max_body_bytes = size_t(args.max_upload_mb) << 20;
  if (args.common.quiet) options.log = nullptr;
  std::vector<HostedModel> models;
  for (const std::string& m : args.models) models.push_back(load_hosted(m, args.load));
  SegmentServer server(models, options);
  server.bind();
  if (!args.common.quiet)
    for (const HostedModel& m : models) {
      std::string what;
      if (auto sam = std::dynamic_pointer_cast<const SamModel>(m.model)) what = sam->config().describe();
      else if (auto m2f = std::dynamic_pointer_cast<const Mask2FormerModel>(m.model)) what = m2f->config().describe();
      else what = m.model->info().architecture;
      std::cerr << "segkit serve: model " << m.name << ": " << what << "\n";
    }
  if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1")
    std::cerr << "segkit serve: warning: listening on " << options.host << " exposes the server beyond this machine\n";

  if (::pipe(stop_pipe) != 0) throw Error("serve: cannot create a pipe for signal handling");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  std::thread waiter([&] {
    char byte = 0;
    while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (stop_signal != 0 && !args.common.quiet)
      std::cerr << "segkit serve: " << (stop_signal == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    server.stop();
  });
  server.run();
  // run() may also return without a signal: wake the waiter.
  char byte = 0;
  ssize_t ignored = ::write(stop_pipe[1], &byte, 1);
  (void)ignored;
  waiter.join();
}
}  // namespace

SEGKIT_COMMAND("serve", "Serve SAM, SAM 3 and Mask2Former over HTTP: a JSON API and a browser UI for clicking on images", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.models,
                 "Model folder, HF repo id (from the local cache) or .pth/.safetensors file; repeat it to host several "
                 "(at most one SAM, any SAM 3 and Mask2Former). Named in the API by the last component of the source, or "
                 "NAME=SOURCE")
      ->required()
      ->expected(1)  // one source per -m: `-m A -m B`
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--host", args.options.host, "Address to listen on (loopback by default; 0.0.0.0 exposes it)")
      ->capture_default_str();
  cmd.add_option("--port", args.options.port, "Port (0 = any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd.add_option("--http-threads", args.options.http_threads, "Connections served at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd.add_option("--cache-mb", args.cache_mb, "Memory for cached embeddings, MiB")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd.add_option("--max-upload-mb", args.max_upload_mb, "Largest request body, MiB")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd.add_option("--max-points", args.options.limits.max_points, "Most points in one predict request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd.add_option("--max-jobs", args.options.limits.max_jobs, "Segment-everything jobs running at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  segkit::cli::add_load_options(cmd, args.load);
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback(run);
});
#endif
