// `segkit serve`: the HTTP API and browser UI over one SAM model, until SIGINT or SIGTERM.
#if SEGKIT_WITH_SERVER
#include <csignal>
#include <iostream>
#include <pthread.h>
#include <thread>

#include "command.h"
#include "segkit/error.h"
#include "segkit/sam.h"
#include "segkit/server.h"

namespace {
struct ServeArgs {
  std::string model;
  segkit::ServerOptions options;
  int cache_mb = 2048;
  int max_upload_mb = 64;
  segkit::cli::CommonOptions common;
} args;

void run() {
  using namespace segkit;
  // Block the stop signals in every thread (the server's threads inherit the mask); one thread
  // waits for them with sigwait and stops the server outside any signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  cli::apply_common_options(args.common);

  ServerOptions options = args.options;
  options.limits.cache_bytes = size_t(args.cache_mb) << 20;
  options.limits.max_body_bytes = size_t(args.max_upload_mb) << 20;
  if (args.common.quiet) options.log = nullptr;
  auto model = SamModel::load(args.model);
  SegmentServer server(model, options);
  server.bind();
  if (!args.common.quiet) std::cerr << "segkit serve: " << model->config().describe() << "\n";
  if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1")
    std::cerr << "segkit serve: warning: listening on " << options.host << " exposes the server beyond this machine\n";

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0 && !args.common.quiet) std::cerr << "segkit serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    server.stop();
  });
  server.run();
  // run() returned: wake the waiter if it is still waiting (stop came from elsewhere).
  pthread_kill(waiter.native_handle(), SIGTERM);
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
  cmd.add_option("--max-pixels", args.options.limits.max_image_pixels, "Largest image, width x height")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
      ->capture_default_str();
  cmd.add_option("--max-points", args.options.limits.max_points, "Most points in one predict request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd.add_option("--max-jobs", args.options.limits.max_jobs, "Segment-everything jobs running at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback(run);
});
#endif
