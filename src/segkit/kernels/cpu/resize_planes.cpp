// Compiled with -ffp-contract=off (src/segkit/CMakeLists.txt): every product and sum rounds as
// written, as in kernels/cpu/resize_argmax.cpp.
#include "kernels/cpu/resize_planes.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <string>
#include <utility>

#include "core/torch_parallel.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_RESIZE_PLANES_AVX512 1
#include <immintrin.h>

#include "kernels/cpu/avx512_mask.h"
#else
#define SEGKIT_RESIZE_PLANES_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "resize_planes";

void require(bool ok, const std::string& what) {
  if (!ok) fail(kName, what);
}

#if SEGKIT_RESIZE_PLANES_AVX512
#define SEGKIT_RP_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define SEGKIT_RP_INLINE SEGKIT_RP_TARGET inline __attribute__((always_inline))

struct Problem {
  const float* values;  // K×h×w
  int64_t in_height, in_width;
  const BilinearTap* rows;  // per output row
  int64_t out_width;
  const int32_t* first;  // per output column: its two source columns and weights
  const int32_t* second;
  const float* first_weight;
  const float* second_weight;
};

// Source row `s` of `plane` interpolated along x to the output's width, as ATen's kernel does
// for each of the two rows it blends.
template <BilinearArithmetic kArithmetic>
SEGKIT_RP_TARGET void interpolate_row(const Problem& p, const float* plane, int64_t s, float* out) {
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

// What an output row's values become: floats, or bytes above a threshold. Row r counts from the
// first row asked for.
struct StoreValues {
  float* out;
  int64_t width;
  SEGKIT_RP_INLINE void operator()(int64_t r, int64_t x, __m512 v, __mmask16 n) const {
    _mm512_mask_storeu_ps(out + r * width + x, n, v);
  }
};
struct StoreAbove {
  uint8_t* out;
  int64_t width;
  float threshold;
  SEGKIT_RP_INLINE void operator()(int64_t r, int64_t x, __m512 v, __mmask16 n) const {
    const __mmask16 above = _mm512_mask_cmp_ps_mask(n, v, _mm512_set1_ps(threshold), _CMP_GT_OQ);
    _mm_mask_storeu_epi8(out + r * width + x, n, _mm_maskz_set1_epi8(above, 1));
  }
};

// Output rows [begin, end) of channel c. The two interpolated source rows are kept between
// output rows (upscaling reuses them for several); `upper` and `lower` hold out_width floats each.
template <BilinearArithmetic kArithmetic, class Store>
SEGKIT_RP_TARGET void channel_rows(const Problem& p, int64_t c, int64_t begin, int64_t end, float* upper, float* lower,
                                   const Store& store) {
  const float* plane = p.values + c * p.in_height * p.in_width;
  int64_t upper_row = -1, lower_row = -1;
  for (int64_t oy = begin; oy < end; ++oy) {
    const BilinearTap& ty = p.rows[oy];
    if (upper_row != ty.first) {
      if (lower_row == ty.first) std::swap(upper, lower), std::swap(upper_row, lower_row);
      else interpolate_row<kArithmetic>(p, plane, ty.first, upper), upper_row = ty.first;
    }
    if (lower_row != ty.second) interpolate_row<kArithmetic>(p, plane, ty.second, lower), lower_row = ty.second;
    const __m512 h0 = _mm512_set1_ps(ty.first_weight), h1 = _mm512_set1_ps(ty.second_weight);
    for (int64_t x = 0; x < p.out_width; x += 16) {
      const __mmask16 n = avx512::first_lanes(p.out_width - x);
      const __m512 r0 = _mm512_maskz_loadu_ps(n, upper + x), r1 = _mm512_maskz_loadu_ps(n, lower + x);
      const __m512 v = kArithmetic == BilinearArithmetic::fused ? _mm512_fmadd_ps(r0, h0, _mm512_mul_ps(r1, h1))
                                                                : _mm512_add_ps(_mm512_mul_ps(r0, h0), _mm512_mul_ps(r1, h1));
      store(oy - begin, x, v, n);
    }
  }
}

template <class Store>
void run_channel_rows(BilinearArithmetic arithmetic, const Problem& p, int64_t c, int64_t begin, int64_t end,
                      float* upper, float* lower, const Store& store) {
  if (arithmetic == BilinearArithmetic::fused)
    channel_rows<BilinearArithmetic::fused>(p, c, begin, end, upper, lower, store);
  else
    channel_rows<BilinearArithmetic::separate>(p, c, begin, end, upper, lower, store);
}
#endif

}  // namespace

bool resize_planes_available(const at::Device& device) {
  return SEGKIT_RESIZE_PLANES_AVX512 && resize_argmax_available(device);
}

PlaneResize::PlaneResize(const at::Tensor& values, int64_t height, int64_t width) {
  require_cpu(kName, {&values});
  require(resize_planes_available() && aten_bilinear_arithmetic(arithmetic_),
          "needs an AVX-512 CPU and ATen's bilinear arithmetic (resize_planes_available)");
  require(values.scalar_type() == at::kFloat && values.dim() == 3 && values.size(1) > 0 && values.size(2) > 0,
          "values should be float32 channels × height × width");
  require(height > 0 && width > 0 && width < (int64_t(1) << 31) && values.size(2) < (int64_t(1) << 31),
          "the output size should be positive");
  values_ = values.contiguous();
  rows_ = bilinear_taps(values.size(1), height);
  for (const BilinearTap& t : bilinear_taps(values.size(2), width)) {
    first_.push_back(static_cast<int32_t>(t.first));
    second_.push_back(static_cast<int32_t>(t.second));
    first_weight_.push_back(t.first_weight);
    second_weight_.push_back(t.second_weight);
  }
}

void PlaneResize::rows(int64_t begin, int64_t end, float* out, int64_t channel_stride) const {
  require(0 <= begin && begin <= end && end <= height(), "rows outside the output");
  if (channel_stride == 0) channel_stride = (end - begin) * width();
  require(channel_stride >= (end - begin) * width(), "channels overlap in the output");
#if SEGKIT_RESIZE_PLANES_AVX512
  const Problem p{values_.data_ptr<float>(), values_.size(1), values_.size(2), rows_.data(), width(), first_.data(),
                  second_.data(), first_weight_.data(), second_weight_.data()};
  std::vector<float> source_rows(static_cast<size_t>(2 * width()));
  for (int64_t c = 0; c < channels(); ++c)
    run_channel_rows(arithmetic_, p, c, begin, end, source_rows.data(), source_rows.data() + width(),
                     StoreValues{out + c * channel_stride, width()});
#else
  (void)out;
#endif
}

void PlaneResize::rows_above(int64_t c, int64_t begin, int64_t end, float threshold, uint8_t* out) const {
  require(0 <= begin && begin <= end && end <= height() && 0 <= c && c < channels(), "rows outside the output");
#if SEGKIT_RESIZE_PLANES_AVX512
  const Problem p{values_.data_ptr<float>(), values_.size(1), values_.size(2), rows_.data(), width(), first_.data(),
                  second_.data(), first_weight_.data(), second_weight_.data()};
  std::vector<float> source_rows(static_cast<size_t>(2 * width()));
  run_channel_rows(arithmetic_, p, c, begin, end, source_rows.data(), source_rows.data() + width(),
                   StoreAbove{out, width(), threshold});
#else
  (void)threshold;
  (void)out;
#endif
}

at::Tensor resize_threshold(const at::Tensor& values, int64_t height, int64_t width, float threshold) {
  const PlaneResize resize(values, height, width);
  const int64_t channels = resize.channels();
  at::Tensor out = at::empty({channels, height, width}, at::kBool);
  uint8_t* bytes = reinterpret_cast<uint8_t*>(out.data_ptr<bool>());
  // Tasks of 64 output rows of one channel: a few hundred kB of output each.
  const int64_t row_blocks = (height + 63) / 64;
  torch_parallel_for(0, channels * row_blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t c = task / row_blocks, r0 = task % row_blocks * 64, r1 = std::min(height, r0 + 64);
      resize.rows_above(c, r0, r1, threshold, bytes + (c * height + r0) * width);
    }
  });
  return out;
}

}  // namespace segkit::kernels
