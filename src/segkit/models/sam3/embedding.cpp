// SAM 3 image embeddings on disk: the FPN levels the detector reads, float32, with the image's
// size and the model's fingerprint as metadata.
#include <cstdio>

#include "segkit/error.h"
#include "segkit/safetensors.h"
#include "segkit/sam3.h"

namespace segkit {

namespace {

const char* const kFormat = "segkit-sam3-embedding";

std::string level_name(size_t i) { return "fpn_level_" + std::to_string(i); }

}  // namespace

void Sam3ImageEmbedding::save(const std::string& path) const {
  std::vector<TensorRef> tensors;
  for (size_t i = 0; i < levels.size(); ++i) tensors.push_back({level_name(i), DType::F32, levels[i].shape, levels[i].data.data()});
  write_safetensors(path, tensors,
                    {{"format", kFormat},
                     {"original_size", std::to_string(original_height) + "," + std::to_string(original_width)},
                     {"model_fingerprint", model_fingerprint}});
}

Sam3ImageEmbedding Sam3ImageEmbedding::load(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  const auto& meta = f->metadata();
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat)
    fail(path, format != meta.end() && format->second == "segkit-sam-embedding"
                   ? "a SAM embedding, not a SAM 3 one (made by segkit embed with a SAM model)"
                   : "not a SAM 3 image embedding (no metadata format \"" + std::string(kFormat) + "\")");
  Sam3ImageEmbedding e;
  for (size_t i = 0; f->contains(level_name(i)); ++i) {
    const TensorView& v = f->get(level_name(i));
    if (v.dtype != DType::F32 || v.shape.size() != 4 || v.shape[0] != 1)
      fail(path, "tensor '" + level_name(i) + "' must be float32 1×C×h×w");
    FloatArray a;
    a.shape = v.shape;
    a.data = f->to_float(level_name(i));
    e.levels.push_back(std::move(a));
  }
  if (e.levels.empty()) fail(path, "no tensor '" + level_name(0) + "'");
  const auto size = meta.find("original_size");
  if (size == meta.end() || std::sscanf(size->second.c_str(), "%d,%d", &e.original_height, &e.original_width) != 2 ||
      e.original_height <= 0 || e.original_width <= 0)
    fail(path, "missing or invalid metadata 'original_size'");
  const auto fp = meta.find("model_fingerprint");
  if (fp != meta.end()) e.model_fingerprint = fp->second;
  return e;
}

}  // namespace segkit
