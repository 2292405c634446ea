#include "postprocess/mask_measure.h"

#include <ATen/ops/empty.h>

#include <cstdint>
#include <vector>

#include "core/torch_parallel.h"
#include "segkit/error.h"

namespace segkit::amg {

MeasuredMasks measure_masks(const at::Tensor& logits_in, double mask_threshold, double stability_offset) {
  if (logits_in.dim() != 3 || logits_in.scalar_type() != at::kFloat) fail("measure_masks", "logits must be N×H×W float32");
  const at::Tensor logits = logits_in.contiguous();
  const int64_t n = logits.size(0), h = logits.size(1), w = logits.size(2);
  MeasuredMasks out{at::empty({n}, at::kFloat), at::empty({n, h, w}, at::kBool), at::empty({n, 4}, at::kLong)};
  // Upstream compares float32 logits with Python floats, i.e. with the float32 of the sum.
  const float hi = static_cast<float>(mask_threshold + stability_offset);
  const float lo = static_cast<float>(mask_threshold - stability_offset);
  const float mid = static_cast<float>(mask_threshold);
  const float* src = logits.data_ptr<float>();
  auto* masks = reinterpret_cast<uint8_t*>(out.masks.data_ptr<bool>());
  float* stability = out.stability.data_ptr<float>();
  int64_t* boxes = out.boxes.data_ptr<int64_t>();

  torch_parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> col_any(static_cast<size_t>(w));
    for (int64_t i = begin; i < end; ++i) {
      std::fill(col_any.begin(), col_any.end(), 0);
      int32_t intersections = 0, unions = 0;
      int64_t top = h, bottom = 0;
      for (int64_t y = 0; y < h; ++y) {
        const float* row = src + (i * h + y) * w;
        uint8_t* mrow = masks + (i * h + y) * w;
        int32_t above_hi = 0, above_lo = 0, above = 0;
        for (int64_t x = 0; x < w; ++x) {
          const float v = row[x];
          const uint8_t m = v > mid;
          mrow[x] = m;
          col_any[size_t(x)] |= m;
          above += m;
          above_hi += v > hi;
          above_lo += v > lo;
        }
        // Upstream sums each row in int16 (wrapping past 32767), then the rows in int32.
        intersections += static_cast<int16_t>(above_hi);
        unions += static_cast<int16_t>(above_lo);
        if (above) {
          if (top == h) top = y;
          bottom = y;
        }
      }
      stability[i] = static_cast<float>(intersections) / static_cast<float>(unions);
      int64_t left = w, right = 0;
      for (int64_t x = 0; x < w; ++x) {
        if (col_any[size_t(x)]) {
          if (left == w) left = x;
          right = x;
        }
      }
      int64_t* box = boxes + 4 * i;
      const bool empty = right < left || bottom < top;
      box[0] = empty ? 0 : left;
      box[1] = empty ? 0 : top;
      box[2] = empty ? 0 : right;
      box[3] = empty ? 0 : bottom;
    }
  });
  return out;
}

}  // namespace segkit::amg
