#include "kernels/cpu/deformable_sampling.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/grid_sampler.h>
#include <ATen/ops/stack.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_SAMPLING_AVX512 1
#define SEGKIT_SAMPLING_TARGET __attribute__((target("avx512f")))
#include <immintrin.h>
#else
#define SEGKIT_SAMPLING_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "deformable_sampling";

struct Problem {
  int64_t queries, heads, head_dim, levels, points, sequence;
  const float* value;      // B×S×heads×dh
  const float* locations;  // B×Q×heads×L×P×2
  const float* weights;    // B×Q×heads×L×P
  float* out;              // B×Q×heads·dh
  const LevelShape* shapes;
  const int64_t* level_starts;
};

// acc += c·v over one head's channels; acc is this query's own output row, never the value.
inline void accumulate(float* __restrict acc, const float* __restrict v, float c, int64_t n) {
  for (int64_t d = 0; d < n; ++d) acc[d] += c * v[d];
}

// A value row to add with its weight: one bilinear corner of one sample.
struct Corner {
  const float* value;
  float weight;
};

// The bilinear corners inside the map of every sample of one query and head, in order;
// returns their count (at most 4 per sample).
int64_t corners_of(const Problem& p, int64_t bq, int64_t h, const float* value_b, int64_t row, Corner* out) {
  const int64_t samples = p.levels * p.points;
  const float* loc = p.locations + (bq * p.heads + h) * samples * 2;
  const float* weight = p.weights + (bq * p.heads + h) * samples;
  int64_t count = 0;
  for (int64_t l = 0; l < p.levels; ++l) {
    const int64_t height = p.shapes[l].height, width = p.shapes[l].width;
    const float* level = value_b + p.level_starts[l] * row + h * p.head_dim;
    // grid_sample's own float steps: grid = 2·loc − 1, then (grid + 1)·size/2 − 0.5, the last
    // two fused as ATen's AVX2/AVX-512 kernels compile them. One rounding more would move
    // the point by an ulp of the pixel coordinate: 1e-5 relative on 150-pixel-wide maps.
    const float half_w = static_cast<float>(width) / 2, half_h = static_cast<float>(height) / 2;
    for (int64_t s = l * p.points; s < (l + 1) * p.points; ++s) {
      const float px = std::fma(loc[2 * s] * 2.0f - 1.0f + 1.0f, half_w, -0.5f);
      const float py = std::fma(loc[2 * s + 1] * 2.0f - 1.0f + 1.0f, half_h, -0.5f);
      // All four neighbours outside (NaN too): nothing to add, and no float→int overflow.
      if (!(px > -1.0f && px < static_cast<float>(width) && py > -1.0f && py < static_cast<float>(height))) continue;
      const float fx = std::floor(px), fy = std::floor(py);
      const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const float east = px - fx, south = py - fy;  // distances from the top-left neighbour
      const float west = 1.0f - east, north = 1.0f - south;
      const float a = weight[s];
      const bool left = x0 >= 0, right = x0 + 1 < width, top = y0 >= 0, bottom = y0 + 1 < height;
      const int64_t nw = (y0 * width + x0) * row;  // may be negative: only valid corners are read
      if (top && left) out[count++] = {level + nw, a * (north * west)};
      if (top && right) out[count++] = {level + nw + row, a * (north * east)};
      if (bottom && left) out[count++] = {level + nw + width * row, a * (south * west)};
      if (bottom && right) out[count++] = {level + nw + (width + 1) * row, a * (south * east)};
    }
  }
  return count;
}

#if SEGKIT_SAMPLING_AVX512
// out = Σ weight·value over the corners, the head's channels in kVectors registers of 16 (a
// multiply, then an add: the scalar path's roundings, so both give identical results).
template <int kVectors>
SEGKIT_SAMPLING_TARGET void sum_corners_avx512(const Corner* corners, int64_t count, float* out) {
  __m512 acc[kVectors];
  for (int i = 0; i < kVectors; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t c = 0; c < count; ++c) {
    const __m512 weight = _mm512_set1_ps(corners[c].weight);
    for (int i = 0; i < kVectors; ++i)
      acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(weight, _mm512_loadu_ps(corners[c].value + 16 * i)));
  }
  for (int i = 0; i < kVectors; ++i) _mm512_storeu_ps(out + 16 * i, acc[i]);
}
#endif

void sum_corners(const Corner* corners, int64_t count, float* out, int64_t head_dim) {
#if SEGKIT_SAMPLING_AVX512
  if (core::cpu_has_avx512()) {
    switch (head_dim) {
      case 16: return sum_corners_avx512<1>(corners, count, out);
      case 32: return sum_corners_avx512<2>(corners, count, out);
      case 48: return sum_corners_avx512<3>(corners, count, out);
      case 64: return sum_corners_avx512<4>(corners, count, out);
      default: break;
    }
  }
#endif
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t c = 0; c < count; ++c) accumulate(out, corners[c].value, corners[c].weight, head_dim);
}

void sample_queries(const Problem& p, int64_t begin, int64_t end) {
  const int64_t row = p.heads * p.head_dim;  // floats between neighbouring positions of the map
  std::vector<Corner> corners(static_cast<size_t>(4 * p.levels * p.points));
  for (int64_t bq = begin; bq < end; ++bq) {
    const float* value_b = p.value + (bq / p.queries) * p.sequence * row;
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t count = corners_of(p, bq, h, value_b, row, corners.data());
      sum_corners(corners.data(), count, p.out + bq * row + h * p.head_dim, p.head_dim);
    }
  }
}

std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void require(bool ok, const std::string& what) {
  if (!ok) fail(kName, what);
}

}  // namespace

// The same with ATen's grid_sample, level by level (any device).
at::Tensor aten_deformable_sampling(const at::Tensor& value, const std::vector<LevelShape>& levels,
                                    const at::Tensor& locations, const at::Tensor& weights) {
  const int64_t batch = value.size(0), heads = value.size(2), head_dim = value.size(3);
  const int64_t queries = locations.size(1), points = locations.size(4);
  const at::Tensor grids = locations * 2 - 1;
  std::vector<at::Tensor> sampled;
  int64_t start = 0;
  for (size_t l = 0; l < levels.size(); ++l) {
    const int64_t h = levels[l].height, w = levels[l].width;
    // (B·heads)×dh×h×w maps and (B·heads)×Q×P×2 grids
    const at::Tensor map = value.narrow(1, start, h * w).permute({0, 2, 3, 1}).reshape({batch * heads, head_dim, h, w});
    const at::Tensor grid = grids.select(3, int64_t(l)).transpose(1, 2).reshape({batch * heads, queries, points, 2});
    sampled.push_back(at::grid_sampler(map, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners*/ false));
    start += h * w;
  }
  // (B·heads)×dh×Q×(L·P) samples weighted and summed over levels and points
  const at::Tensor stacked = at::stack(sampled, -2).flatten(-2);
  const at::Tensor w = weights.transpose(1, 2).reshape({batch * heads, 1, queries, -1});
  return (stacked * w).sum(-1).view({batch, heads * head_dim, queries}).transpose(1, 2).contiguous();
}

at::Tensor deformable_sampling(const at::Tensor& value_in, const std::vector<LevelShape>& levels,
                               const at::Tensor& locations_in, const at::Tensor& weights_in) {
  const bool hand_written = hand_written_path({&value_in, &locations_in, &weights_in});
  if (hand_written) require_cpu(kName, {&value_in, &locations_in, &weights_in});
  for (const at::Tensor* t : {&value_in, &locations_in, &weights_in})
    require(t->scalar_type() == at::kFloat, "expects float32 tensors");
  require(value_in.dim() == 4, "value must be B×S×heads×dh, got " + shape_text(value_in.sizes()));
  const int64_t batch = value_in.size(0), sequence = value_in.size(1), heads = value_in.size(2),
                head_dim = value_in.size(3);
  require(locations_in.dim() == 6 && locations_in.size(5) == 2,
          "sampling locations must be B×Q×heads×levels×points×2, got " + shape_text(locations_in.sizes()));
  const int64_t queries = locations_in.size(1), num_levels = locations_in.size(3), points = locations_in.size(4);
  require(locations_in.size(0) == batch && locations_in.size(2) == heads && num_levels == int64_t(levels.size()),
          "sampling locations " + shape_text(locations_in.sizes()) + " do not fit value " +
              shape_text(value_in.sizes()) + " and " + std::to_string(levels.size()) + " levels");
  require(weights_in.sizes() == locations_in.sizes().slice(0, 5),
          "attention weights " + shape_text(weights_in.sizes()) + " do not fit sampling locations " +
              shape_text(locations_in.sizes()));
  std::vector<int64_t> starts(levels.size());
  int64_t total = 0;
  for (size_t l = 0; l < levels.size(); ++l) {
    require(levels[l].height > 0 && levels[l].width > 0, "level " + std::to_string(l) + " is empty");
    starts[l] = total;
    total += levels[l].height * levels[l].width;
  }
  require(total == sequence, "the levels hold " + std::to_string(total) + " positions, value has " +
                                 std::to_string(sequence));
  if (!hand_written) return aten_deformable_sampling(value_in, levels, locations_in, weights_in);

  const at::Tensor value = value_in.contiguous(), locations = locations_in.contiguous(),
                   weights = weights_in.contiguous();
  at::Tensor out = at::empty({batch, queries, heads * head_dim}, value.options());
  const Problem p{queries, heads, head_dim, num_levels, points, sequence,
                  value.data_ptr<float>(), locations.data_ptr<float>(), weights.data_ptr<float>(),
                  out.data_ptr<float>(), levels.data(), starts.data()};
  // About 4k multiply-adds per query in real models: a few dozen queries make a task.
  torch_parallel_for(0, batch * queries, 32, [&](int64_t begin, int64_t end) { sample_queries(p, begin, end); });
  return out;
}

}  // namespace segkit::kernels
