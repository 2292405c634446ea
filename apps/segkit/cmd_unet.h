#pragma once
// `segkit unet train|predict|eval|ensemble`: one file per subcommand, registered by cmd_unet.cpp.
#include <CLI/CLI.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace segkit::cli {

void add_unet_train(CLI::App& unet);
void add_unet_predict(CLI::App& unet);
void add_unet_eval(CLI::App& unet);
void add_unet_ensemble(CLI::App& unet);

inline std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace segkit::cli
