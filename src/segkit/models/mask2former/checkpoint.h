#pragma once
// A Mask2Former checkpoint's tensors under the names transformers writes to files, every one the
// configuration needs checked for presence and shape before any network part is built.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hub/model_locator.h"
#include "nn/weight_map.h"
#include "segkit/mask2former.h"

namespace segkit::mask2former {

// The file spelling of a tensor name: transformers 5 module paths (encoder.swin.*,
// attention.q_proj, mlp.fc1, ...) become the names its save_pretrained writes.
std::string file_name_of(const std::string& name);

// Every tensor the network reads (file names), with its shape, from the configuration alone.
using Shapes = std::map<std::string, std::vector<int64_t>>;
Shapes expected_shapes(const Mask2FormerConfig& config);

using LoadedWeights = nn::LoadedWeights;

// Error "<weights file>: missing tensor '...'" or "... has shape [..], expected [..]" (also for
// a class head whose size disagrees with config.json's id2label).
LoadedWeights read_weights(const ModelLocation& files, const Mask2FormerConfig& config);

// Buffers a checkpoint may carry (not parameters): recomputed by transformers or used only in
// training.
bool is_buffer(const std::string& name);
// What the model leaves unread without a warning: the buffers, and the Swin norm whose output
// Mask2Former never reads.
bool is_unused_by_design(const std::string& name);

}  // namespace segkit::mask2former
