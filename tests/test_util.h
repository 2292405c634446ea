#pragma once
// Shared helpers for segkit's tests: where the test data lives, temporary folders, and
// running the segkit binary for end-to-end CLI tests.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_features.h"

namespace segkit::test {

// tests/data/<relative>
std::string data_path(const std::string& relative);

// Sets (or, with nullopt, unsets) an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A fresh empty folder, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the segkit binary with the given arguments (no shell involved), capturing output; in
// folder `cwd` when one is given (relative paths in `args` then resolve there).
CliResult run_cli(const std::vector<std::string>& args, const std::string& cwd = {});

// Limits the hand-written kernels to `ceiling` and its families below (core/cpu_features.h) for
// one scope, however it ends: a test runs every kernel path its CPU has, one after another.
class KernelCeiling {
 public:
  explicit KernelCeiling(core::CpuKernels ceiling) { core::limit_cpu_kernels(ceiling); }
  ~KernelCeiling() { core::limit_cpu_kernels(core::CpuKernels::amx_bf16); }
  KernelCeiling(const KernelCeiling&) = delete;
  KernelCeiling& operator=(const KernelCeiling&) = delete;
};

// The message of the segkit::Error that `f` throws, or "(no error)".
std::string error_of(const std::function<void()>& f);

}  // namespace segkit::test
