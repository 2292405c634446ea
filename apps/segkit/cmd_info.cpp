// `segkit info [MODEL]`: what this build of segkit is and what the machine offers; or, given a
// model, which family it is and what it holds (read from its headers, not loaded).
#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "segkit/model.h"
#include "segkit/version.h"

namespace {
bool as_json = false;
std::string model;

std::string join(const std::vector<std::string>& items, const std::string& prefix = "") {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + prefix + item;
  return s;
}

void print_model() {
  const segkit::ModelInfo info = segkit::inspect_model(model);
  if (as_json) {
    const nlohmann::json j = {{"model", info.source},
                              {"family", info.family},
                              {"family_title", info.family_title},
                              {"runnable", info.runnable},
                              {"architecture", info.architecture},
                              {"parameters", info.parameter_count},
                              {"precisions", info.precisions},
                              {"commands", info.commands},
                              {"found_as", info.found_as},
                              {"location", info.location},
                              {"weights", info.weights},
                              {"config", info.config.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.config)},
                              {"identified_by", info.identified_by}};
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "model         " << info.source << "\n"
            << "family        " << info.family << " (" << info.family_title << ")\n"
            << "architecture  " << info.architecture << "\n"
            << "parameters    " << info.parameter_count << "\n";
  if (info.runnable)
    std::cout << "precisions    " << join(info.precisions) << "\n"
              << "commands      " << join(info.commands, "segkit ") << "\n";
  else
    std::cout << "runs          no: this segkit cannot run " << info.family_title << " models\n";
  std::cout << "found as      " << info.found_as << ": " << info.location << "\n"
            << "weights       " << info.weights << "\n";
  if (!info.config.empty()) std::cout << "config        " << info.config << "\n";
  std::cout << "identified by " << info.identified_by << "\n";
}
}  // namespace

SEGKIT_COMMAND("info", "Print the segkit version, threads and LibTorch build; or a model's family and architecture", [](CLI::App& cmd) {
  cmd.add_option("model", model, "Model folder, HF repo id (from the local cache) or .pth/.safetensors file");
  cmd.add_flag("--json", as_json, "Print JSON");
  cmd.callback([] {
    if (!model.empty()) return print_model();
    nlohmann::json j = {{"segkit", segkit::version_string()},
                        {"threads", at::get_num_threads()},
                        {"torch_parallel", at::get_parallel_info()}};
    if (as_json) std::cout << j.dump() << "\n";
    else std::cout << "segkit " << segkit::version_string() << "\nthreads " << at::get_num_threads() << "\n";
  });
});
