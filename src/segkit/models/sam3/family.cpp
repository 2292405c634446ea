// Describing a SAM 3 checkpoint from config.json and its tensor headers.
#include "models/sam3/family.h"

#include "models/registry.h"
#include "segkit/error.h"
#include "segkit/sam3.h"

namespace segkit::sam3 {

namespace {

// A sam3_video checkpoint also holds the video tracker, which segkit does not run: only the
// detector's tensors (under `prefix`) count.
int64_t parameters_under(const models::CheckpointIndex& index, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& [name, t] : index.tensors)
    if (name.rfind(prefix, 0) == 0 && (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 ||
                                        t.dtype == DType::F64))
      n += t.numel();
  return n;
}

}  // namespace

std::string architecture_name(const Sam3Config& c, int image_size) {
  const ViTConfig& v = c.vision.backbone;
  return "sam3 vit " + std::to_string(v.hidden_size) + "×" + std::to_string(v.num_hidden_layers) + " at " +
         std::to_string(image_size) + " px, text " + std::to_string(c.text.hidden_size) + "×" +
         std::to_string(c.text.num_layers) + ", " + std::to_string(c.detr_decoder.num_queries) + " queries";
}

void describe(const models::CheckpointIndex& index, ModelInfo& info) {
  info.precisions = {"fp32", "bf16"};
  try {
    const Sam3Config config = parse_config(index.config, index.location.config);
    info.architecture = architecture_name(config, config.vision.backbone.image_size);
    info.parameter_count = parameters_under(index, config.weight_prefix);
  } catch (const Error&) {
    info.architecture = "sam3 (config.json not runnable)";  // loading reports why
    info.parameter_count = index.float_elements();
  }
}

std::shared_ptr<const Model> load(const ModelInfo& info, const LoadOptions& options) {
  return Sam3Model::load(info.source, options);
}

}  // namespace segkit::sam3
