#pragma once
// `segkit eval <kind>`: each kind of evaluation sets up its own subcommand in cmd_eval_<kind>.cpp.
#include <CLI/CLI.hpp>
#include <string>

namespace segkit::cli {
void setup_eval_semantic(CLI::App& cmd);
void setup_eval_instance(CLI::App& cmd);
void setup_eval_panoptic(CLI::App& cmd);
// Writes `text` to `path` atomically, or to standard output when path is "-".
void write_eval_output(const std::string& path, const std::string& text);
}  // namespace segkit::cli
