#include "kernels/cpu/blocked_keys.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/sigmoid.h>

#include <cmath>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

namespace segkit::kernels {

namespace {

// sigmoid(x) < 0.5 in float32. Below −1e-6 it always holds; nearer 0, exp(−x) rounds to 1 for
// |x| under about 6e-8 and the sigmoid to exactly 0.5, so the sign alone would block keys that
// transformers leaves open.
inline bool below_half(float x) {
  if (x >= 0.0f) return false;
  if (x < -1e-6f) return true;
  return 1.0f / (1.0f + std::exp(-x)) < 0.5f;
}

}  // namespace

at::Tensor blocked_keys(const at::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 4) fail("blocked_keys", "logits must be B × Q × h × w");
  if (!hand_written_path({&logits}) || logits.scalar_type() != at::kFloat || !logits.is_contiguous()) {
    const at::Tensor blocked = at::sigmoid(logits).flatten(2).lt(0.5);
    return blocked.logical_and(blocked.all(-1, true).logical_not());
  }
  const int64_t rows = logits.size(0) * logits.size(1), keys = logits.size(2) * logits.size(3);
  at::Tensor out = at::empty({logits.size(0), logits.size(1), keys}, logits.options().dtype(at::kBool));
  const float* x = logits.data_ptr<float>();
  bool* b = out.data_ptr<bool>();
  torch_parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * keys;
      bool* blocked = b + r * keys;
      bool everywhere = true;
      for (int64_t k = 0; k < keys; ++k) {
        blocked[k] = below_half(row[k]);
        everywhere = everywhere && blocked[k];
      }
      if (everywhere)
        for (int64_t k = 0; k < keys; ++k) blocked[k] = false;
    }
  });
  return out;
}

}  // namespace segkit::kernels
