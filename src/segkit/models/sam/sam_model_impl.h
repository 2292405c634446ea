#pragma once
// What a loaded SamModel holds: the three network parts and the files backing their weights;
// sam::Internals, the library's way in.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "hub/model_locator.h"
#include "models/sam/image_encoder.h"
#include "models/sam/mask_decoder.h"
#include "models/sam/prompt_encoder.h"
#include "segkit/sam.h"

namespace segkit {

struct SamModel::Impl {
  SamConfig config;
  std::string source;
  ModelLocation location;       // the files it was read from
  int64_t parameter_count = 0;  // stored weights, buffers excluded
  std::string fingerprint;
  Precision precision = Precision::Fp32;  // resolved, never Auto
  Device device;
  sam::ImageEncoder image_encoder;
  sam::PromptEncoder prompt_encoder;
  sam::MaskDecoder mask_decoder;
  at::Tensor dense_pe;  // 1×C×g×g, computed once
  std::vector<std::shared_ptr<const void>> backing_files;  // memory maps the weights may point into
};

namespace sam {

// The library's access to what SamModel and SamPredictor keep private.
struct Internals {
  static const SamModel::Impl& of(const SamModel& model) { return *model.impl_; }
  static const SamPredictor::State& of(const SamPredictor& predictor) { return *predictor.state_; }
};

}  // namespace sam
}  // namespace segkit
