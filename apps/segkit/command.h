#pragma once
// Each subcommand lives in its own cmd_*.cpp and registers itself here with a static
// SEGKIT_COMMAND(...) object, so adding a command touches no other file.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "segkit/sam.h"

namespace segkit::cli {

struct CommandSpec {
  const char* name;
  const char* summary;
  std::function<void(CLI::App& cmd)> setup;  // adds options and sets cmd.callback(...)
};

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSpec spec);
};

// Options every command that computes something takes.
struct CommonOptions {
  int threads = 0;  // 0 = all cores
  bool quiet = false;
  int64_t max_pixels = 0;  // 0 = keep the default (SEGKIT_MAX_PIXELS or 100 MP)
  bool allow_truncated = false;
};
void add_common_options(CLI::App& cmd, CommonOptions& opts);
// Applies --threads to LibTorch and OpenMP, --max-pixels and --allow-truncated to image decoding; call first in a
// command's callback.
void apply_common_options(const CommonOptions& opts);

// --precision and --device, for every command that loads a model: the words as given, turned
// into LoadOptions when the model is loaded.
struct LoadArgs {
  std::string precision = "fp32";
  std::string device = "cpu";
  LoadOptions options() const;  // Error on words parse_precision or parse_device refuse
};
// bf16 false: the family runs in fp32 only, and --precision offers fp32 and auto.
void add_load_options(CLI::App& cmd, LoadArgs& args, bool bf16 = true);
// SamModel::load after refusing a model of another family with a one-line Error that names
// the family and its command (segkit/model.h).
std::shared_ptr<const SamModel> load_sam_model(const std::string& model, const LoadArgs& args);

}  // namespace segkit::cli

#define SEGKIT_CONCAT_INNER(a, b) a##b
#define SEGKIT_CONCAT(a, b) SEGKIT_CONCAT_INNER(a, b)
#define SEGKIT_COMMAND(...) \
  static ::segkit::cli::CommandRegistrar SEGKIT_CONCAT(segkit_command_, __LINE__)(::segkit::cli::CommandSpec{__VA_ARGS__})
