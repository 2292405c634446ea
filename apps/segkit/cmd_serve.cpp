// `segkit serve`: the HTTP API and browser UI over one SAM model, until SIGINT or SIGTERM.
#if SEGKIT_WITH_SERVER
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iostream>
#include <thread>

#include "command.h"
#include "segkit/error.h"
#include "segkit/sam.h"
#include "segkit/server.h"

namespace {
struct ServeArgs {
  std::string model;
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

void run() {
  using namespace segkit;
  cli::apply_common_options(args.common);
  // The common --max-pixels also bounds uploads; without it the server keeps its own, lower default.
  if (args.common.max_pixels > 0) args.options.limits.max_image_pixels = args.common.max_pixels;
  ServerOptions options = args.options;
  options.limits.cache_bytes = size_t(args.cache_mb) << 20;
  options.limits.max_body_bytes = size_t(args.max_upload_mb) << 20;
  if (args.common.quiet) options.log = nullptr;
  auto model = cli::load_sam_model(args.model, args.load);
  SegmentServer server(model, options);
  server.bind();
  if (!args.common.quiet) std::cerr << "segkit serve: " << model->config().describe() << "\n";
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

SEGKIT_COMMAND("serve", "Serve SAM over HTTP: a JSON API and a browser UI for clicking on images", [](CLI::App& cmd) {
  cmd.add_option("-m,--model", args.model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file")->required();
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
