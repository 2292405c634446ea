#pragma once
// Which model family a checkpoint belongs to, and loading it as that family:
//
//   segkit::ModelInfo info = segkit::inspect_model("facebook/sam-vit-base");  // reads no weights
//   info.family;        // "sam", "unet", ... (docs/models.md lists them)
//   auto model = segkit::load_model("run/best.safetensors");                 // a segkit::Model
//   auto unet = std::dynamic_pointer_cast<const segkit::UNetModel>(model);
//
// The family comes from config.json's "model_type" where there is one (Hugging Face layout),
// else from the weights file itself (tensor names, segkit's checkpoint metadata).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace segkit {

struct ModelInfo {
  std::string family;                 // "sam", "unet", "mask2former", "sam3"
  std::string family_title;           // for people: "SAM", "U-Net", "Mask2Former"
  bool runnable = false;              // false: recognised, but this segkit cannot run the family
  std::vector<std::string> commands;  // the segkit commands that take it: "predict", "unet predict", ...
  std::string architecture;           // "sam vit_b", "unet depth 4 width 64 (...)"
  int64_t parameter_count = 0;        // numbers in the weights (batch-norm statistics and buffers excluded)
  std::vector<std::string> precisions;  // arithmetic it can run in: "fp32", "bf16"

  // Where it was found.
  std::string source;         // as given
  std::string found_as;       // "file", "folder", "hub cache"; "" for a model made in memory
  std::string location;       // the path, or "ORG/NAME@REV (snapshot COMMIT)"
  std::string weights;        // the weights file read
  std::string config;         // the config.json read, "" when none
  std::string identified_by;  // how the family was told: "config.json model_type \"sam\"", ...
};

// Every family a model can be; SamModel and UNetModel derive from it.
class Model {
 public:
  virtual ~Model() = default;
  virtual std::string family() const = 0;  // as ModelInfo::family
  virtual ModelInfo info() const = 0;
};

// The arithmetic of a model's heavy parts. Bf16 runs matrix products and attention in bfloat16
// (about twice as fast where the CPU has native bf16); Auto picks Bf16 exactly there. Each
// family lists the precisions it runs in (ModelInfo::precisions).
enum class Precision { Fp32, Bf16, Auto };
Precision parse_precision(const std::string& name);  // "fp32", "bf16", "auto"; Error otherwise
const char* precision_name(Precision precision);

// Where a model's tensors live and its kernels run. This build runs on the CPU: loading onto
// another device is refused in one line.
struct Device {
  enum class Kind { Cpu, Cuda };
  Kind kind = Kind::Cpu;
  int index = 0;  // which GPU, for Cuda
};
Device parse_device(const std::string& name);  // "cpu", "cuda", "cuda:N"; Error otherwise
std::string device_name(const Device& device);

struct LoadOptions {
  Precision precision = Precision::Fp32;  // one of the family's precisions, or Auto (the fastest here)
  Device device;
  bool warn_unused = true;  // warn once (stderr) about checkpoint tensors the model does not use
};

// The family and a description of a model folder, Hugging Face repo id (local cache) or weights
// file, reading only config.json and the weights' headers. Error "SOURCE: ..." when it cannot
// be found or read, when config.json names a model_type segkit does not know, or when a file
// without config.json matches no family. A family segkit recognises but cannot run is
// returned with runnable = false.
ModelInfo inspect_model(const std::string& path_or_repo_id);

// inspect_model, then the family's own loader. Error for a family this segkit cannot run, a
// precision the family does not support, or a device this build cannot run on.
std::shared_ptr<const Model> load_model(const std::string& path_or_repo_id, const LoadOptions& options = {});

// inspect_model, and Error "SOURCE: this is a U-Net model; use segkit unet predict" (or the
// like) unless the model belongs to `family`.
ModelInfo require_model_family(const std::string& path_or_repo_id, const std::string& family);

// The families segkit can run, in registry order: "sam", "unet".
std::vector<std::string> runnable_model_families();

}  // namespace segkit
