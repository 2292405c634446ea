#include "kernels/cpu/resize_threshold.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/cpu/cpu_tensor.h"
#include "kernels/cpu/resize_argmax.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_RESIZE_THRESHOLD_AVX512 1
#include <immintrin.h>

#include "kernels/cpu/avx512_mask.h"
#else
#define SEGKIT_RESIZE_THRESHOLD_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "resize_threshold";

#if SEGKIT_RESIZE_THRESHOLD_AVX512
#define SEGKIT_RT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

struct Problem {
  const float* values;  // K×h×w
  int64_t in_height, in_width;
  const BilinearTap* rows;  // per output row
  int64_t out_height, out_width;
  const int32_t* first;   // per output column: its two source columns and weights
  const int32_t* second;
  const float* first_weight;
  const float* second_weight;
  float threshold;
  uint8_t* out;  // K×out_height×out_width
};

// Source row `s` of `plane` interpolated along x to the output's width, as ATen's kernel does
// for each of the two rows it blends.
template <BilinearArithmetic kArithmetic>
SEGKIT_RT_TARGET void interpolate_row(const Problem& p, const float* plane, int64_t s, float* out) {
  const float* row = plane + s * p.in_width;
  for (int64_t x = 0; x < p.out_width; x += 16) {
    const __mmask16 n = avx512::first_lanes(p.out_width - x);
    const __m512i i0 = _mm512_maskz_loadu_epi32(n, p.first + x), i1 = _mm512_maskz_loadu_epi32(n, p.second + x);
    const __m512 v0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), n, i0, row, 4);
    const __m512 v1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), n, i1, row, 4);
    const __m512 w0 = _mm512_maskz_loadu_ps(n, p.first_weight + x), w1 = _mm512_maskz_loadu_ps(n, p.second_weight + x);
    const __m512 v = kArithmetic == BilinearArithmetic::fused ? _mm512_fmadd_ps(v0, w0, _mm512_mul_ps(v1, w1))
                                                              : _mm512_add_ps(_mm512_mul_ps(v0, w0), _mm512_mul_ps(v1, w1));
    _mm512_mask_storeu_ps(out + x, n, v);
  }
}

// Output rows [begin, end) of channel c. The two interpolated source rows are kept between
// output rows (upscaling reuses them for several).
template <BilinearArithmetic kArithmetic>
SEGKIT_RT_TARGET void channel_rows(const Problem& p, int64_t c, int64_t begin, int64_t end) {
  const float* plane = p.values + c * p.in_height * p.in_width;
  std::vector<float> upper(static_cast<size_t>(p.out_width)), lower(static_cast<size_t>(p.out_width));
  int64_t upper_row = -1, lower_row = -1;
  const __m512 threshold = _mm512_set1_ps(p.threshold);
  for (int64_t oy = begin; oy < end; ++oy) {
    const BilinearTap& ty = p.rows[oy];
    if (upper_row != ty.first) {
      if (lower_row == ty.first) std::swap(upper, lower), std::swap(upper_row, lower_row);
      else interpolate_row<kArithmetic>(p, plane, ty.first, upper.data()), upper_row = ty.first;
    }
    if (lower_row != ty.second) interpolate_row<kArithmetic>(p, plane, ty.second, lower.data()), lower_row = ty.second;
    const __m512 h0 = _mm512_set1_ps(ty.first_weight), h1 = _mm512_set1_ps(ty.second_weight);
    uint8_t* out = p.out + (c * p.out_height + oy) * p.out_width;
    for (int64_t x = 0; x < p.out_width; x += 16) {
      const __mmask16 n = avx512::first_lanes(p.out_width - x);
      const __m512 r0 = _mm512_maskz_loadu_ps(n, upper.data() + x), r1 = _mm512_maskz_loadu_ps(n, lower.data() + x);
      const __m512 v = kArithmetic == BilinearArithmetic::fused ? _mm512_fmadd_ps(r0, h0, _mm512_mul_ps(r1, h1))
                                                                : _mm512_add_ps(_mm512_mul_ps(r0, h0), _mm512_mul_ps(r1, h1));
      const __mmask16 above = _mm512_mask_cmp_ps_mask(n, v, threshold, _CMP_GT_OQ);
      _mm_mask_storeu_epi8(out + x, n, _mm_maskz_set1_epi8(above, 1));
    }
  }
}
#endif

void require(bool ok, const std::string& what) {
  if (!ok) fail(kName, what);
}

}  // namespace

bool resize_threshold_available(const at::Device& device) { return resize_argmax_available(device); }

at::Tensor resize_threshold(const at::Tensor& values_in, int64_t height, int64_t width, float threshold) {
  require_cpu(kName, {&values_in});
  BilinearArithmetic arithmetic = BilinearArithmetic::fused;
  require(resize_threshold_available() && aten_bilinear_arithmetic(arithmetic),
          "needs an AVX-512 CPU and ATen's bilinear arithmetic (resize_threshold_available)");
  require(values_in.scalar_type() == at::kFloat && values_in.dim() == 3 && values_in.size(1) > 0 && values_in.size(2) > 0,
          "values should be float32 channels × height × width");
  require(height > 0 && width > 0 && width < (int64_t(1) << 31) && values_in.size(2) < (int64_t(1) << 31),
          "the output size should be positive");
  const at::Tensor values = values_in.contiguous();
  const int64_t channels = values.size(0);
  at::Tensor out = at::empty({channels, height, width}, at::kBool);
  if (channels == 0) return out;
  const std::vector<BilinearTap> rows = bilinear_taps(values.size(1), height), cols = bilinear_taps(values.size(2), width);
#if SEGKIT_RESIZE_THRESHOLD_AVX512
  const size_t columns = static_cast<size_t>(width);
  std::vector<int32_t> first(columns), second(columns);
  std::vector<float> first_weight(columns), second_weight(columns);
  for (size_t x = 0; x < cols.size(); ++x) {
    first[x] = int32_t(cols[x].first);
    second[x] = int32_t(cols[x].second);
    first_weight[x] = cols[x].first_weight;
    second_weight[x] = cols[x].second_weight;
  }
  const Problem p{values.data_ptr<float>(), values.size(1), values.size(2), rows.data(), height, width,
                  first.data(), second.data(), first_weight.data(), second_weight.data(), threshold,
                  reinterpret_cast<uint8_t*>(out.data_ptr<bool>())};
  // Tasks of 64 output rows of one channel: a few hundred kB of output each.
  const int64_t row_blocks = (height + 63) / 64;
  torch_parallel_for(0, channels * row_blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t c = task / row_blocks, r0 = task % row_blocks * 64, r1 = std::min(height, r0 + 64);
      if (arithmetic == BilinearArithmetic::fused) channel_rows<BilinearArithmetic::fused>(p, c, r0, r1);
      else channel_rows<BilinearArithmetic::separate>(p, c, r0, r1);
    }
  });
#else
  (void)threshold;
#endif
  return out;
}

}  // namespace segkit::kernels
