// Telling a SAM checkpoint from its tensor names, and describing it from tensor shapes alone.
#include "models/sam/family.h"

#include <cstdlib>
#include <set>

#include "models/registry.h"
#include "segkit/sam.h"

namespace segkit::sam {

namespace {

// Checkpoints saved from a DataParallel wrapper prefix every name; the loader drops it too.
std::string plain_name(const std::string& name) { return name.rfind("module.", 0) == 0 ? name.substr(7) : name; }

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The official and the Hugging Face spelling of the tensors describe() reads.
struct Naming {
  const char* patch_embed;  // weight: width × 3 × patch × patch
  const char* pos_embed;    // 1 × grid × grid × width
  const char* block;        // followed by the block index
  const char* detected_as;
};
const Naming kNamings[] = {
    {"image_encoder.patch_embed.proj.weight", "image_encoder.pos_embed", "image_encoder.blocks.",
     "tensor names image_encoder.*, mask_decoder.*"},
    {"vision_encoder.patch_embed.projection.weight", "vision_encoder.pos_embed", "vision_encoder.layers.",
     "tensor names vision_encoder.*, mask_decoder.* (Hugging Face SAM)"},
};

const Naming* naming_of(const models::CheckpointIndex& index) {
  bool has_decoder = false;
  std::set<std::string> names;
  for (const auto& entry : index.tensors) {
    names.insert(plain_name(entry.first));
    has_decoder = has_decoder || starts_with(plain_name(entry.first), "mask_decoder.");
  }
  if (!has_decoder) return nullptr;
  for (const Naming& n : kNamings)
    if (names.count(n.patch_embed)) return &n;
  return nullptr;
}

}  // namespace

// Buffers, as PyTorch counts them out of parameters(): the normalisation constants and the
// random Fourier features (which Hugging Face files store twice, tied).
bool is_parameter(const std::string& name) {
  const std::string n = "." + plain_name(name);
  for (const std::string buffer : {".pixel_mean", ".pixel_std", ".positional_embedding", ".positional_encoding_gaussian_matrix"})
    if (n.size() >= buffer.size() && n.compare(n.size() - buffer.size(), buffer.size(), buffer) == 0) return false;
  return true;
}

std::string architecture_name(int width, int depth, int image_size) {
  if (image_size == 1024) {
    if (width == 768 && depth == 12) return "sam vit_b";
    if (width == 1024 && depth == 24) return "sam vit_l";
    if (width == 1280 && depth == 32) return "sam vit_h";
  }
  return "sam ViT width " + std::to_string(width) + ", " + std::to_string(depth) + " blocks" +
         (image_size > 0 ? ", " + std::to_string(image_size) + " px input" : "");
}

std::string detect(const models::CheckpointIndex& index) {
  const Naming* n = naming_of(index);
  return n ? n->detected_as : "";
}

void describe(const models::CheckpointIndex& index, ModelInfo& info) {
  int width = 0, patch = 0, grid = 0;
  std::set<int> blocks;
  if (const Naming* n = naming_of(index)) {
    for (const auto& [raw, t] : index.tensors) {
      const std::string name = plain_name(raw);
      if (name == n->patch_embed && t.shape.size() == 4) {
        width = static_cast<int>(t.shape[0]);
        patch = static_cast<int>(t.shape[2]);
      } else if (name == n->pos_embed && t.shape.size() == 4) {
        grid = static_cast<int>(t.shape[1]);
      } else if (starts_with(name, n->block)) {
        blocks.insert(std::atoi(name.c_str() + std::string(n->block).size()));
      }
    }
  }
  info.architecture = architecture_name(width, static_cast<int>(blocks.size()), grid * patch);
  info.parameter_count = index.float_elements(is_parameter);
  info.precisions = {"fp32", "bf16"};
}

std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options) {
  return SamModel::load(info.source, options);
}

}  // namespace segkit::sam
