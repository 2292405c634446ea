#pragma once
// A short fingerprint of a model's weights, stored with image embeddings so that one model's
// embedding is never decoded by another.
#include <string>

#include "nn/weight_map.h"

namespace segkit::nn {

// 16 hex digits hashing every tensor's name and bytes, at most the first 4096 bytes of those
// for which `sampled` is true (large encoders: enough to tell models apart without reading
// gigabytes). `sampled` null: every tensor is sampled.
std::string weights_fingerprint(const WeightMap& weights, bool (*sampled)(const std::string& name) = nullptr);

}  // namespace segkit::nn
