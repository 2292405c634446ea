#include "kernels/cpu/deformable_sampling.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/grid_sampler.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>

#include <algorithm>
#include <cmath>
#include <limits>
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
#include "kernels/cpu/avx512_kernel_file.h"
#else
#define SEGKIT_SAMPLING_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "deformable_sampling";

// A bfloat16 value as the float it stands for (exact: the same bits, 16 zeros appended).
inline float widen(float v) { return v; }
inline float widen(c10::BFloat16 v) { return static_cast<float>(v); }

struct Problem {
  int64_t queries, heads, head_dim, levels, points, sequence;
  const void* value;       // B×S×heads×dh, float32 or bfloat16
  const float* locations;  // B×Q×heads×L×P×2
  const float* weights;    // B×Q×heads×L×P
  void* out;               // B×Q×heads·dh in the value's type
  const LevelShape* shapes;
  const int64_t* level_starts;
  // From the layer's outputs instead (locations and weights null): offsets in pixels as
  // locations, Q×2 reference points, logits as weights; the weights are written to
  // weights_out when it is not null.
  const float* offsets = nullptr;
  const float* reference = nullptr;
  const float* logits = nullptr;
  float* weights_out = nullptr;
};

// softmax(logits[0, n)) into weights, as ATen's last-dimension softmax: exp(x − max), then
// times the reciprocal of the sum. A head's samples fit one vector in every real model.
#if SEGKIT_SAMPLING_AVX512
// The weights of the first n lanes (the others 0).
SEGKIT_SAMPLING_TARGET inline __m512 softmax_lanes(const float* logits, int64_t n) {
  const __mmask16 m = __mmask16((1u << n) - 1);
  const __m512 x = _mm512_maskz_loadu_ps(m, logits);
  const float max = _mm512_mask_reduce_max_ps(m, x);
  const __m512 e = _mm512_maskz_mov_ps(m, avx512::exp(_mm512_sub_ps(x, _mm512_set1_ps(max))));
  const float inverse = 1.0f / _mm512_reduce_add_ps(e);
  return _mm512_mul_ps(e, _mm512_set1_ps(inverse));
}

SEGKIT_SAMPLING_TARGET void softmax_avx512(const float* logits, int64_t n, float* weights) {
  _mm512_mask_storeu_ps(weights, __mmask16((1u << n) - 1), softmax_lanes(logits, n));
}
#endif

void softmax(const float* logits, int64_t n, float* weights) {
#if SEGKIT_SAMPLING_AVX512
  if (n <= 16 && core::cpu_has_avx512()) return softmax_avx512(logits, n, weights);
#endif
  float max = logits[0], sum = 0.0f;
  for (int64_t i = 1; i < n; ++i) max = std::max(max, logits[i]);
  for (int64_t i = 0; i < n; ++i) sum += (weights[i] = std::exp(logits[i] - max));
  const float inverse = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) weights[i] *= inverse;
}

// acc += c·v over one head's channels; acc is this query's own output row, never the value.
template <typename T>
void accumulate(float* __restrict acc, const T* __restrict v, float c, int64_t n) {
  for (int64_t d = 0; d < n; ++d) acc[d] += c * widen(v[d]);
}

// A value row to add with its weight: one bilinear corner of one sample, `offset` elements
// from the start of the value.
struct Corner {
  int64_t offset;
  float weight;
};

// The bilinear corners inside the map of every sample of one query and head, in order;
// returns their count (at most 4 per sample).
// `scratch` holds 3·L·P floats for the locations and weights made from the layer's outputs.
int64_t corners_of(const Problem& p, int64_t bq, int64_t h, int64_t value_b, int64_t row, Corner* out,
                   float* scratch) {
  const int64_t samples = p.levels * p.points, at = (bq * p.heads + h) * samples;
  const float* loc = p.locations ? p.locations + at * 2 : scratch;
  const float* weight = p.weights ? p.weights + at : scratch + 2 * samples;
  if (!p.locations) {
    // transformers' offsets / (W_l, H_l) + reference, in the same two float steps.
    const float* offset = p.offsets + at * 2;
    const float* reference = p.reference + (bq % p.queries) * 2;
    for (int64_t s = 0; s < samples; ++s) {
      const LevelShape& shape = p.shapes[s / p.points];
      scratch[2 * s] = offset[2 * s] / static_cast<float>(shape.width) + reference[0];
      scratch[2 * s + 1] = offset[2 * s + 1] / static_cast<float>(shape.height) + reference[1];
    }
    softmax(p.logits + at, samples, scratch + 2 * samples);
    if (p.weights_out) std::copy(scratch + 2 * samples, scratch + 3 * samples, p.weights_out + at);
  }
  int64_t count = 0;
  for (int64_t l = 0; l < p.levels; ++l) {
    const int64_t height = p.shapes[l].height, width = p.shapes[l].width;
    const int64_t level = value_b + p.level_starts[l] * row + h * p.head_dim;
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

// out = Σ weight·value over the corners, then rounded to the value's type where that is
// bfloat16 (as ATen rounds: to nearest, ties to even).
template <typename T>
void sum_corners(const T* value, const Corner* corners, int64_t count, T* out, int64_t head_dim, float* acc) {
  for (int64_t d = 0; d < head_dim; ++d) acc[d] = 0.0f;
  for (int64_t c = 0; c < count; ++c) accumulate(acc, value + corners[c].offset, corners[c].weight, head_dim);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = static_cast<T>(acc[d]);
}

#if SEGKIT_SAMPLING_AVX512
// What the vector path needs of each sample's level, one lane per sample (s / points).
struct SampleLanes {
  alignas(64) float width[16], height[16], half_width[16], half_height[16];
  alignas(64) int32_t int_width[16], int_height[16], start[16];
};

SampleLanes sample_lanes(const Problem& p) {
  SampleLanes lanes{};
  for (int64_t s = 0; s < 16; ++s) {
    const int64_t l = std::min(s / p.points, p.levels - 1);  // lanes past the samples: any level
    const LevelShape& shape = p.shapes[l];
    lanes.width[s] = static_cast<float>(shape.width);
    lanes.height[s] = static_cast<float>(shape.height);
    lanes.half_width[s] = lanes.width[s] / 2;
    lanes.half_height[s] = lanes.height[s] / 2;
    lanes.int_width[s] = static_cast<int32_t>(shape.width);
    lanes.int_height[s] = static_cast<int32_t>(shape.height);
    lanes.start[s] = static_cast<int32_t>(p.level_starts[l]);
  }
  return lanes;
}

using avx512::load16;
using avx512::store16;

// x and y of 16 interleaved (x, y) pairs, `count` of them read.
SEGKIT_SAMPLING_TARGET inline void load_pairs(const float* xy, int64_t count, __m512& x, __m512& y) {
  const __mmask16 low = count >= 8 ? __mmask16(0xffff) : __mmask16((1u << (2 * count)) - 1);
  const __mmask16 high = count > 8 ? __mmask16((1u << (2 * count - 16)) - 1) : __mmask16(0);
  const __m512 a = _mm512_maskz_loadu_ps(low, xy), b = _mm512_maskz_loadu_ps(high, xy + 16);
  x = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  y = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}

// acc += weight·value over a head's channels, fused (one rounding; the scalar path rounds twice).
template <int kVectors, typename T>
SEGKIT_SAMPLING_TARGET inline void add_corner(__m512* acc, float weight, const T* value) {
  const __m512 w = _mm512_set1_ps(weight);
  for (int i = 0; i < kVectors; ++i) acc[i] = _mm512_fmadd_ps(w, load16(value + 16 * i), acc[i]);
}

// One query and head with its L·P ≤ 16 samples in the lanes of a vector: the same float steps
// as corners_of and the corners summed in the same order as sum_corners.
template <int kVectors, typename T>
SEGKIT_SAMPLING_TARGET void sample_head_avx512(const Problem& p, const SampleLanes& lanes, int64_t bq, int64_t h,
                                               const T* value_b, T* out) {
  const int64_t samples = p.levels * p.points, at = (bq * p.heads + h) * samples;
  const __mmask16 used = __mmask16((1u << samples) - 1);
  const __m512 width = _mm512_load_ps(lanes.width), height = _mm512_load_ps(lanes.height);
  __m512 x, y, weight;
  if (p.locations) {
    load_pairs(p.locations + at * 2, samples, x, y);
    weight = _mm512_maskz_loadu_ps(used, p.weights + at);
  } else {
    __m512 dx, dy;
    load_pairs(p.offsets + at * 2, samples, dx, dy);
    const float* reference = p.reference + (bq % p.queries) * 2;
    x = _mm512_add_ps(_mm512_div_ps(dx, width), _mm512_set1_ps(reference[0]));
    y = _mm512_add_ps(_mm512_div_ps(dy, height), _mm512_set1_ps(reference[1]));
    weight = softmax_lanes(p.logits + at, samples);
    if (p.weights_out) _mm512_mask_storeu_ps(p.weights_out + at, used, weight);
  }
  const __m512 one = _mm512_set1_ps(1.0f), minus_one = _mm512_set1_ps(-1.0f);
  const __m512 px = _mm512_fmadd_ps(_mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(x, _mm512_set1_ps(2.0f)), one), one),
                                    _mm512_load_ps(lanes.half_width), _mm512_set1_ps(-0.5f));
  const __m512 py = _mm512_fmadd_ps(_mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(y, _mm512_set1_ps(2.0f)), one), one),
                                    _mm512_load_ps(lanes.half_height), _mm512_set1_ps(-0.5f));
  // Some neighbour inside the map (false for NaN), as corners_of decides.
  __mmask16 inside = _mm512_mask_cmp_ps_mask(used, px, minus_one, _CMP_GT_OQ);
  inside = _mm512_mask_cmp_ps_mask(inside, px, width, _CMP_LT_OQ);
  inside = _mm512_mask_cmp_ps_mask(inside, py, minus_one, _CMP_GT_OQ);
  inside = _mm512_mask_cmp_ps_mask(inside, py, height, _CMP_LT_OQ);
  const __m512 fx = _mm512_roundscale_ps(px, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 fy = _mm512_roundscale_ps(py, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512i x0 = _mm512_maskz_cvttps_epi32(inside, fx), y0 = _mm512_maskz_cvttps_epi32(inside, fy);
  const __m512 east = _mm512_sub_ps(px, fx), south = _mm512_sub_ps(py, fy);
  const __m512 west = _mm512_sub_ps(one, east), north = _mm512_sub_ps(one, south);
  alignas(64) float corner_weight[4][16];
  _mm512_store_ps(corner_weight[0], _mm512_mul_ps(weight, _mm512_mul_ps(north, west)));
  _mm512_store_ps(corner_weight[1], _mm512_mul_ps(weight, _mm512_mul_ps(north, east)));
  _mm512_store_ps(corner_weight[2], _mm512_mul_ps(weight, _mm512_mul_ps(south, west)));
  _mm512_store_ps(corner_weight[3], _mm512_mul_ps(weight, _mm512_mul_ps(south, east)));
  const __m512i int_width = _mm512_load_si512(lanes.int_width), zero = _mm512_setzero_si512();
  const __m512i one_int = _mm512_set1_epi32(1);
  const __mmask16 left = _mm512_cmpge_epi32_mask(x0, zero), top = _mm512_cmpge_epi32_mask(y0, zero);
  const __mmask16 right = _mm512_cmplt_epi32_mask(_mm512_add_epi32(x0, one_int), int_width);
  const __mmask16 bottom = _mm512_cmplt_epi32_mask(_mm512_add_epi32(y0, one_int), _mm512_load_si512(lanes.int_height));
  const unsigned corner_valid[4] = {unsigned(inside & top & left), unsigned(inside & top & right),
                                    unsigned(inside & bottom & left), unsigned(inside & bottom & right)};
  // The top-left neighbour's position in the map (−1 rows or columns where it is outside).
  alignas(64) int32_t position[16];
  const __m512i in_level = _mm512_add_epi32(_mm512_mullo_epi32(y0, int_width), x0);
  _mm512_store_si512(position, _mm512_add_epi32(_mm512_load_si512(lanes.start), in_level));

  const int64_t row = p.heads * p.head_dim;
  const T* head = value_b + h * p.head_dim;
  __m512 acc[kVectors];
  for (int i = 0; i < kVectors; ++i) acc[i] = _mm512_setzero_ps();
  for (unsigned left_to_do = inside; left_to_do; left_to_do &= left_to_do - 1) {  // samples in order
    const int s = __builtin_ctz(left_to_do);
    const int64_t nw = int64_t(position[s]) * row, down = int64_t(lanes.int_width[s]) * row;
    if (corner_valid[0] >> s & 1) add_corner<kVectors>(acc, corner_weight[0][s], head + nw);
    if (corner_valid[1] >> s & 1) add_corner<kVectors>(acc, corner_weight[1][s], head + (nw + row));
    if (corner_valid[2] >> s & 1) add_corner<kVectors>(acc, corner_weight[2][s], head + (nw + down));
    if (corner_valid[3] >> s & 1) add_corner<kVectors>(acc, corner_weight[3][s], head + (nw + down + row));
  }
  for (int i = 0; i < kVectors; ++i) store16(out + 16 * i, acc[i]);
}

// Whether sample_queries_avx512 takes the problem (checked outside AVX-512 code).
bool vector_path(const Problem& p) {
  return core::cpu_has_avx512() && p.levels * p.points <= 16 && p.head_dim % 16 == 0 && p.head_dim <= 64 &&
         p.sequence <= std::numeric_limits<int32_t>::max();  // positions in 32-bit lanes
}

template <typename T>
SEGKIT_SAMPLING_TARGET void sample_queries_avx512(const Problem& p, int64_t begin, int64_t end) {
  const SampleLanes lanes = sample_lanes(p);
  const int64_t row = p.heads * p.head_dim;
  const T* value = static_cast<const T*>(p.value);
  T* out = static_cast<T*>(p.out);
  for (int64_t bq = begin; bq < end; ++bq) {
    const T* value_b = value + (bq / p.queries) * p.sequence * row;
    for (int64_t h = 0; h < p.heads; ++h) {
      T* o = out + bq * row + h * p.head_dim;
      switch (p.head_dim / 16) {
        case 1: sample_head_avx512<1>(p, lanes, bq, h, value_b, o); break;
        case 2: sample_head_avx512<2>(p, lanes, bq, h, value_b, o); break;
        case 3: sample_head_avx512<3>(p, lanes, bq, h, value_b, o); break;
        default: sample_head_avx512<4>(p, lanes, bq, h, value_b, o); break;
      }
    }
  }
}
#endif

template <typename T>
void sample_queries(const Problem& p, int64_t begin, int64_t end) {
#if SEGKIT_SAMPLING_AVX512
  if (vector_path(p)) return sample_queries_avx512<T>(p, begin, end);
#endif
  const int64_t row = p.heads * p.head_dim;  // elements between neighbouring positions of the map
  std::vector<Corner> corners(static_cast<size_t>(4 * p.levels * p.points));
  std::vector<float> scratch(static_cast<size_t>(3 * p.levels * p.points)), acc(static_cast<size_t>(p.head_dim));
  const T* value = static_cast<const T*>(p.value);
  T* out = static_cast<T*>(p.out);
  for (int64_t bq = begin; bq < end; ++bq) {
    const int64_t value_b = (bq / p.queries) * p.sequence * row;
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t count = corners_of(p, bq, h, value_b, row, corners.data(), scratch.data());
      sum_corners(value, corners.data(), count, out + bq * row + h * p.head_dim, p.head_dim, acc.data());
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

// The same with ATen's grid_sample, level by level (any device), in float32 and returned in the
// value's type.
at::Tensor aten_deformable_sampling(const at::Tensor& value_in, const std::vector<LevelShape>& levels,
                                    const at::Tensor& locations, const at::Tensor& weights) {
  const at::Tensor value = value_in.to(at::kFloat);
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
  return (stacked * w).sum(-1).view({batch, heads * head_dim, queries}).transpose(1, 2).contiguous().to(
      value_in.scalar_type());
}

namespace {

// Checks value against the levels; returns where each level starts in it.
std::vector<int64_t> level_starts(const at::Tensor& value, const std::vector<LevelShape>& levels) {
  require(value.scalar_type() == at::kFloat || value.scalar_type() == at::kBFloat16,
          "expects a float32 or bfloat16 value");
  require(value.dim() == 4, "value must be B×S×heads×dh, got " + shape_text(value.sizes()));
  std::vector<int64_t> starts(levels.size());
  int64_t total = 0;
  for (size_t l = 0; l < levels.size(); ++l) {
    require(levels[l].height > 0 && levels[l].width > 0, "level " + std::to_string(l) + " is empty");
    starts[l] = total;
    total += levels[l].height * levels[l].width;
  }
  require(total == value.size(1), "the levels hold " + std::to_string(total) + " positions, value has " +
                                      std::to_string(value.size(1)));
  return starts;
}

// The samples of a problem whose pointers are set, over all queries of all images.
at::Tensor sample_all(Problem p, const at::Tensor& value, int64_t batch) {
  at::Tensor out = at::empty({batch, p.queries, p.heads * p.head_dim}, value.options());
  p.value = value.data_ptr();
  p.out = out.data_ptr();
  const bool bf16 = value.scalar_type() == at::kBFloat16;
  // About 4k multiply-adds per query in real models: a few dozen queries make a task. Queries
  // cost unequal amounts (those of a fine level read farther apart than a coarse level's), so
  // the threads take tasks as they finish (one equal range each left one waiting a third of
  // the time on Mask2Former's levels).
  torch_parallel_chunks(0, batch * p.queries, 512, [&](int64_t begin, int64_t end) {
    if (bf16) sample_queries<c10::BFloat16>(p, begin, end);
    else sample_queries<float>(p, begin, end);
  });
  return out;
}

}  // namespace

at::Tensor deformable_sampling(const at::Tensor& value_in, const std::vector<LevelShape>& levels,
                               const at::Tensor& locations_in, const at::Tensor& weights_in) {
  const bool hand_written = hand_written_path({&value_in, &locations_in, &weights_in});
  if (hand_written) require_cpu(kName, {&value_in, &locations_in, &weights_in});
  for (const at::Tensor* t : {&locations_in, &weights_in})
    require(t->scalar_type() == at::kFloat, "expects float32 tensors");
  const std::vector<int64_t> starts = level_starts(value_in, levels);
  const int64_t batch = value_in.size(0), heads = value_in.size(2);
  require(locations_in.dim() == 6 && locations_in.size(5) == 2,
          "sampling locations must be B×Q×heads×levels×points×2, got " + shape_text(locations_in.sizes()));
  const int64_t queries = locations_in.size(1), num_levels = locations_in.size(3), points = locations_in.size(4);
  require(locations_in.size(0) == batch && locations_in.size(2) == heads && num_levels == int64_t(levels.size()),
          "sampling locations " + shape_text(locations_in.sizes()) + " do not fit value " +
              shape_text(value_in.sizes()) + " and " + std::to_string(levels.size()) + " levels");
  require(weights_in.sizes() == locations_in.sizes().slice(0, 5),
          "attention weights " + shape_text(weights_in.sizes()) + " do not fit sampling locations " +
              shape_text(locations_in.sizes()));
  if (!hand_written) return aten_deformable_sampling(value_in, levels, locations_in, weights_in);

  const at::Tensor value = value_in.contiguous(), locations = locations_in.contiguous(),
                   weights = weights_in.contiguous();
  return sample_all({queries, heads, value.size(3), num_levels, points, value.size(1), nullptr,
                     locations.data_ptr<float>(), weights.data_ptr<float>(), nullptr, levels.data(), starts.data()},
                    value, batch);
}

at::Tensor deformable_attention_sampling(const at::Tensor& value_in, const std::vector<LevelShape>& levels,
                                         const at::Tensor& offsets_in, const at::Tensor& reference_in,
                                         const at::Tensor& logits_in, at::Tensor* weights_out) {
  const bool hand_written = hand_written_path({&value_in, &offsets_in, &reference_in, &logits_in});
  if (hand_written) require_cpu(kName, {&value_in, &offsets_in, &reference_in, &logits_in});
  for (const at::Tensor* t : {&offsets_in, &reference_in, &logits_in})
    require(t->scalar_type() == at::kFloat, "expects float32 tensors");
  const std::vector<int64_t> starts = level_starts(value_in, levels);
  const int64_t batch = value_in.size(0), heads = value_in.size(2), num_levels = int64_t(levels.size());
  require(offsets_in.dim() == 6 && offsets_in.size(0) == batch && offsets_in.size(2) == heads &&
              offsets_in.size(3) == num_levels && offsets_in.size(5) == 2,
          "sampling offsets " + shape_text(offsets_in.sizes()) + " do not fit value " + shape_text(value_in.sizes()) +
              " and " + std::to_string(levels.size()) + " levels (B×Q×heads×levels×points×2)");
  const int64_t queries = offsets_in.size(1), points = offsets_in.size(4);
  require(reference_in.dim() == 2 && reference_in.size(0) == queries && reference_in.size(1) == 2,
          "reference points " + shape_text(reference_in.sizes()) + " do not fit " + std::to_string(queries) +
              " queries (Q×2)");
  require(logits_in.sizes() == offsets_in.sizes().slice(0, 5),
          "attention logits " + shape_text(logits_in.sizes()) + " do not fit sampling offsets " +
              shape_text(offsets_in.sizes()));
  if (!hand_written) {
    std::vector<float> sizes;
    for (const LevelShape& l : levels) {
      sizes.push_back(static_cast<float>(l.width));
      sizes.push_back(static_cast<float>(l.height));
    }
    const at::Tensor normaliser =
        at::from_blob(sizes.data(), {num_levels, 1, 2}, at::kFloat).to(offsets_in.device(), false, /*copy=*/true);
    const at::Tensor locations = offsets_in / normaliser + reference_in.reshape({1, queries, 1, 1, 1, 2});
    const at::Tensor weights = at::softmax(logits_in.reshape({batch, queries, heads, -1}), -1).view(logits_in.sizes());
    if (weights_out) *weights_out = weights;
    return aten_deformable_sampling(value_in, levels, locations, weights);
  }

  const at::Tensor value = value_in.contiguous(), offsets = offsets_in.contiguous(),
                   reference = reference_in.contiguous(), logits = logits_in.contiguous();
  Problem p{queries, heads, value.size(3), num_levels, points, value.size(1), nullptr,
            nullptr, nullptr, nullptr, levels.data(), starts.data()};
  p.offsets = offsets.data_ptr<float>();
  p.reference = reference.data_ptr<float>();
  p.logits = logits.data_ptr<float>();
  if (weights_out) {
    *weights_out = at::empty(logits.sizes(), logits.options());
    p.weights_out = weights_out->data_ptr<float>();
  }
  return sample_all(p, value, batch);
}

}  // namespace segkit::kernels
