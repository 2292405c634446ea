// `segkit info`: what this build of segkit is and what the machine offers.
#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "segkit/version.h"

namespace {
bool as_json = false;
}

SEGKIT_COMMAND("info", "Print the segkit version, threads and LibTorch build", [](CLI::App& cmd) {
  cmd.add_flag("--json", as_json, "Print JSON");
  cmd.callback([] {
    nlohmann::json j = {{"segkit", segkit::version_string()},
                        {"threads", at::get_num_threads()},
                        {"torch_parallel", at::get_parallel_info()}};
    if (as_json) std::cout << j.dump() << "\n";
    else std::cout << "segkit " << segkit::version_string() << "\nthreads " << at::get_num_threads() << "\n";
  });
});
