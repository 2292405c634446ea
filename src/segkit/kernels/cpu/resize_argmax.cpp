// Compiled with -ffp-contract=off (src/segkit/CMakeLists.txt): every product and sum below rounds
// exactly as written, the FMAs ATen's build has are written out, and no others appear.
#include "kernels/cpu/resize_argmax.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>

#include "core/cpu_features.h"
#include "kernels/aten_path.h"
#include "core/torch_parallel.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_RESIZE_ARGMAX_AVX512 1
#include <immintrin.h>

#include "kernels/cpu/avx512_mask.h"
// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#else
#define SEGKIT_RESIZE_ARGMAX_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "resize_argmax";

// One channel's value from its four source values, as ATen's kernel computes it.
float interpolate(float v00, float v01, float v10, float v11, const BilinearTap& x, const BilinearTap& y,
                  BilinearArithmetic arithmetic) {
  if (arithmetic == BilinearArithmetic::fused) {
    const float row0 = std::fma(v00, x.first_weight, v01 * x.second_weight);
    const float row1 = std::fma(v10, x.first_weight, v11 * x.second_weight);
    return std::fma(row0, y.first_weight, row1 * y.second_weight);
  }
  const float row0 = v00 * x.first_weight + v01 * x.second_weight;
  const float row1 = v10 * x.first_weight + v11 * x.second_weight;
  return row0 * y.first_weight + row1 * y.second_weight;
}

// Resizes a fixed 3-channel 6×7 map to 13×11 with ATen and with each arithmetic: a third of such
// values differ between the two.
bool probe_aten(BilinearArithmetic& found) {
  constexpr int64_t kChannels = 3, kIn[2] = {6, 7}, kOut[2] = {13, 11};
  at::Tensor input = at::empty({1, kChannels, kIn[0], kIn[1]}, at::kFloat);
  float* in = input.data_ptr<float>();
  for (int64_t i = 0; i < input.numel(); ++i)  // fixed values in [0, 1) with full mantissas
    in[i] = static_cast<float>((static_cast<uint32_t>(i + 1) * 2654435761u) >> 8) / 16777216.0f;
  const at::Tensor resized = at::upsample_bilinear2d(input, {kOut[0], kOut[1]}, false).contiguous();
  const float* out = resized.data_ptr<float>();
  const std::vector<BilinearTap> rows = bilinear_taps(kIn[0], kOut[0]), cols = bilinear_taps(kIn[1], kOut[1]);
  for (BilinearArithmetic arithmetic : {BilinearArithmetic::fused, BilinearArithmetic::separate}) {
    bool same = true;
    for (int64_t c = 0; c < kChannels && same; ++c)
      for (int64_t oy = 0; oy < kOut[0] && same; ++oy)
        for (int64_t ox = 0; ox < kOut[1] && same; ++ox) {
          const BilinearTap &y = rows[size_t(oy)], &x = cols[size_t(ox)];
          const float* plane = in + c * kIn[0] * kIn[1];
          const float v = interpolate(plane[y.first * kIn[1] + x.first], plane[y.first * kIn[1] + x.second],
                                      plane[y.second * kIn[1] + x.first], plane[y.second * kIn[1] + x.second], x,
                                      y, arithmetic);
          same = std::memcmp(&v, out + (c * kOut[0] + oy) * kOut[1] + ox, sizeof v) == 0;
        }
    if (same) {
      found = arithmetic;
      return true;
    }
  }
  return false;
}

#if SEGKIT_RESIZE_ARGMAX_AVX512
#define SEGKIT_RA_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define SEGKIT_RA_INLINE SEGKIT_RA_TARGET inline __attribute__((always_inline))

struct Problem {
  const float* values;  // source rows from first_row on, each w×K
  int64_t first_row;
  int64_t width, channels;
  const BilinearTap* rows;  // per output row
  const BilinearTap* cols;  // per output column
  int64_t out_width;
  const float* scale;  // K, or null
  float threshold;
  int32_t* labels;  // out_height×out_width
};

// 16 channels from c on (the first n of them) of one output pixel.
template <BilinearArithmetic kArithmetic>
SEGKIT_RA_INLINE __m512 interpolate16(const float* r0, const float* r1, int64_t x0, int64_t x1, __m512 w0, __m512 w1,
                                      __m512 h0, __m512 h1, int64_t c, __mmask16 n) {
  const __m512 v00 = _mm512_maskz_loadu_ps(n, r0 + x0 + c), v01 = _mm512_maskz_loadu_ps(n, r0 + x1 + c);
  const __m512 v10 = _mm512_maskz_loadu_ps(n, r1 + x0 + c), v11 = _mm512_maskz_loadu_ps(n, r1 + x1 + c);
  if constexpr (kArithmetic == BilinearArithmetic::fused) {
    const __m512 row0 = _mm512_fmadd_ps(v00, w0, _mm512_mul_ps(v01, w1));
    const __m512 row1 = _mm512_fmadd_ps(v10, w0, _mm512_mul_ps(v11, w1));
    return _mm512_fmadd_ps(row0, h0, _mm512_mul_ps(row1, h1));
  } else {
    const __m512 row0 = _mm512_add_ps(_mm512_mul_ps(v00, w0), _mm512_mul_ps(v01, w1));
    const __m512 row1 = _mm512_add_ps(_mm512_mul_ps(v10, w0), _mm512_mul_ps(v11, w1));
    return _mm512_add_ps(_mm512_mul_ps(row0, h0), _mm512_mul_ps(row1, h1));
  }
}

// Output rows [begin, end). Each lane keeps its own first maximum over the channels c ≡ lane
// (mod 16), then the lanes are reduced: the largest value, and of the lanes holding it the lowest
// channel. `counts` (16 per block of channels) gets the pixels at or above the threshold.
template <BilinearArithmetic kArithmetic, bool kScaled, bool kCount>
SEGKIT_RA_TARGET void argmax_rows(const Problem& p, int64_t begin, int64_t end, int64_t* counts) {
  const int64_t K = p.channels, row_floats = p.width * K;
  const int64_t blocks = (K + 15) / 16;
  const __mmask16 tail = avx512::first_lanes(K - (blocks - 1) * 16);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 threshold = _mm512_set1_ps(p.threshold);
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  std::vector<int32_t> row_counts(kCount ? size_t(blocks * 16) : 0);
  for (int64_t oy = begin; oy < end; ++oy) {
    const BilinearTap& ty = p.rows[oy];
    const float* r0 = p.values + (ty.first - p.first_row) * row_floats;
    const float* r1 = p.values + (ty.second - p.first_row) * row_floats;
    const __m512 h0 = _mm512_set1_ps(ty.first_weight), h1 = _mm512_set1_ps(ty.second_weight);
    if constexpr (kCount) std::fill(row_counts.begin(), row_counts.end(), 0);
    int32_t* labels = p.labels + oy * p.out_width;
    for (int64_t ox = 0; ox < p.out_width; ++ox) {
      const BilinearTap& tx = p.cols[ox];
      const int64_t x0 = tx.first * K, x1 = tx.second * K;
      const __m512 w0 = _mm512_set1_ps(tx.first_weight), w1 = _mm512_set1_ps(tx.second_weight);
      __m512 best = lowest;
      __m512i best_channel = lane;
      int64_t first_nan = -1;
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t c = b * 16;
        const __mmask16 n = b + 1 < blocks ? __mmask16(0xffff) : tail;
        __m512 v = interpolate16<kArithmetic>(r0, r1, x0, x1, w0, w1, h0, h1, c, n);
        if constexpr (kScaled) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(n, p.scale + c));
        if constexpr (kCount) {
          int32_t* count = row_counts.data() + c;
          const __mmask16 at_least = _mm512_mask_cmp_ps_mask(n, v, threshold, _CMP_GE_OQ);
          _mm512_storeu_si512(count, _mm512_mask_sub_epi32(_mm512_loadu_si512(count), at_least,
                                                            _mm512_loadu_si512(count), _mm512_set1_epi32(-1)));
        }
        // Strictly greater: a lane keeps its earliest channel of equal values. NaN never
        // compares greater; the first one is looked for apart, torch's argmax ranks it first.
        const __mmask16 greater = _mm512_mask_cmp_ps_mask(n, v, best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, greater, v);
        best_channel = _mm512_mask_mov_epi32(best_channel, greater, _mm512_add_epi32(lane, _mm512_set1_epi32(int32_t(c))));
        const __mmask16 nan = _mm512_mask_cmp_ps_mask(n, v, v, _CMP_UNORD_Q);
        if (nan && first_nan < 0) first_nan = c + __builtin_ctz(nan);
      }
      if (first_nan >= 0) {
        labels[ox] = int32_t(first_nan);
        continue;
      }
      // Each lane starts at −inf on its own first channel, so all −inf gives channel 0, as torch.
      const float top = _mm512_reduce_max_ps(best);
      const __mmask16 holds_top = _mm512_cmp_ps_mask(best, _mm512_set1_ps(top), _CMP_EQ_OQ);
      labels[ox] = _mm512_mask_reduce_min_epi32(holds_top, best_channel);
    }
    if constexpr (kCount)
      for (int64_t c = 0; c < K; ++c) counts[c] += row_counts[size_t(c)];
  }
}

template <BilinearArithmetic kArithmetic>
void run_rows(const Problem& p, int64_t begin, int64_t end, int64_t* counts) {
  if (p.scale && counts) return argmax_rows<kArithmetic, true, true>(p, begin, end, counts);
  if (p.scale) return argmax_rows<kArithmetic, true, false>(p, begin, end, counts);
  if (counts) return argmax_rows<kArithmetic, false, true>(p, begin, end, counts);
  argmax_rows<kArithmetic, false, false>(p, begin, end, counts);
}

template <BilinearArithmetic kArithmetic>
SEGKIT_RA_TARGET void pixel_values(const Problem& p, int64_t oy, int64_t ox, float* out) {
  const BilinearTap &ty = p.rows[oy], &tx = p.cols[ox];
  const int64_t K = p.channels, row_floats = p.width * K;
  const float* r0 = p.values + ty.first * row_floats;
  const float* r1 = p.values + ty.second * row_floats;
  const __m512 h0 = _mm512_set1_ps(ty.first_weight), h1 = _mm512_set1_ps(ty.second_weight);
  const __m512 w0 = _mm512_set1_ps(tx.first_weight), w1 = _mm512_set1_ps(tx.second_weight);
  for (int64_t c = 0; c < K; c += 16) {
    const __mmask16 n = avx512::first_lanes(K - c);
    _mm512_mask_storeu_ps(out + c, n,
                          interpolate16<kArithmetic>(r0, r1, tx.first * K, tx.second * K, w0, w1, h0, h1, c, n));
  }
}
#endif

void require(bool ok, const std::string& what) {
  if (!ok) fail(kName, what);
}

// Checks the arguments; returns the arithmetic to use.
BilinearArithmetic check(const at::Tensor& values, int64_t height, int64_t width) {
  require_cpu(kName, {&values});
  BilinearArithmetic arithmetic = BilinearArithmetic::fused;
  require(resize_argmax_available() && aten_bilinear_arithmetic(arithmetic),
          "needs an AVX-512 CPU and ATen's bilinear arithmetic (resize_argmax_available)");
  require(values.scalar_type() == at::kFloat && values.dim() == 3 && values.size(0) > 0 && values.size(1) > 0 &&
              values.size(2) >= 2,
          "values should be float32 height × width × channels, 2 channels or more");
  require(values.size(2) < std::numeric_limits<int32_t>::max(), "too many channels");
  require(height > 0 && width > 0, "the output size should be positive");
  return arithmetic;
}

}  // namespace

std::vector<BilinearTap> bilinear_taps(int64_t input_size, int64_t output_size) {
  std::vector<BilinearTap> taps(static_cast<size_t>(output_size));
  if (input_size == output_size) {  // ATen copies: the same index twice, weights 1 and 0
    for (int64_t o = 0; o < output_size; ++o) taps[size_t(o)].first = taps[size_t(o)].second = o;
    return taps;
  }
  // ATen (UpSample.h, align_corners=False, no scale given): the ratio in float32, the source
  // coordinate in double (acc_type of float on the CPU), clamped at 0, truncated; the weight is
  // the double fraction rounded to float once. The float ratio (24 bits) times o + 0.5 is exact
  // in double, so whether ATen's build fused the − 0.5 into an FMA cannot change anything.
  const float ratio = static_cast<float>(input_size) / static_cast<float>(output_size);
  for (int64_t o = 0; o < output_size; ++o) {
    double source = static_cast<double>(ratio) * (static_cast<double>(o) + 0.5) - 0.5;
    if (source < 0) source = 0;
    BilinearTap& t = taps[size_t(o)];
    t.first = static_cast<int64_t>(source);
    t.second = t.first + (t.first < input_size - 1 ? 1 : 0);
    t.second_weight = static_cast<float>(source - static_cast<double>(t.first));
    t.first_weight = 1.0f - t.second_weight;
  }
  return taps;
}

bool aten_bilinear_arithmetic(BilinearArithmetic& arithmetic) {
  static BilinearArithmetic found = BilinearArithmetic::fused;
  static const bool known = probe_aten(found);
  arithmetic = found;
  return known;
}

bool resize_argmax_available(const at::Device& device) {
  BilinearArithmetic unused;
  return SEGKIT_RESIZE_ARGMAX_AVX512 && hand_written_path(device) && core::cpu_has_avx512() &&
         aten_bilinear_arithmetic(unused);
}

at::Tensor resize_argmax(const at::Tensor& values_in, int64_t height, int64_t width, const at::Tensor& scale_in,
                         float count_threshold, std::vector<int64_t>* counts) {
  check(values_in, height, width);
  const int64_t channels = values_in.size(2);
  if (scale_in.defined()) {
    require_cpu(kName, {&scale_in});
    require(scale_in.scalar_type() == at::kFloat && scale_in.dim() == 1 && scale_in.size(0) == channels,
            "scale should be float32, one per channel");
  }
  const at::Tensor values = values_in.contiguous();
  const at::Tensor scale = scale_in.defined() ? scale_in.contiguous() : scale_in;
  // The whole map is one band.
  const BandedResizeArgmax argmax(values.size(0), values.size(1), channels, height, width,
                                  scale.defined() ? scale.data_ptr<float>() : nullptr, count_threshold);
  at::Tensor labels = at::empty({height, width}, at::kInt);
  if (counts) counts->assign(size_t(channels), 0);
  std::mutex merge;
  // A row of a photo is thousands of pixels of K channels each: a few rows make a task.
  torch_parallel_for(0, height, 4, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> local(counts ? size_t(channels) : 0, 0);
    argmax.rows(values.data_ptr<float>(), 0, values.size(0), begin, end, labels.data_ptr<int32_t>(),
                counts ? local.data() : nullptr);
    if (!counts) return;
    const std::lock_guard<std::mutex> lock(merge);
    for (int64_t c = 0; c < channels; ++c) (*counts)[size_t(c)] += local[size_t(c)];
  });
  return labels;
}

BandedResizeArgmax::BandedResizeArgmax(int64_t in_height, int64_t in_width, int64_t channels, int64_t height,
                                       int64_t width, const float* scale, float count_threshold)
    : in_width_(in_width), channels_(channels), width_(width), scale_(scale), count_threshold_(count_threshold) {
  require(resize_argmax_available() && aten_bilinear_arithmetic(arithmetic_),
          "needs an AVX-512 CPU and ATen's bilinear arithmetic (resize_argmax_available)");
  require(in_height > 0 && in_width > 0 && channels >= 2, "values should be height × width × channels, 2 channels or more");
  require(channels < std::numeric_limits<int32_t>::max(), "too many channels");
  require(height > 0 && width > 0, "the output size should be positive");
  rows_ = bilinear_taps(in_height, height);
  cols_ = bilinear_taps(in_width, width);
}

std::pair<int64_t, int64_t> BandedResizeArgmax::output_rows(int64_t source_begin, int64_t source_end) const {
  // The upper source row never decreases from one output row to the next.
  const auto first_at = [&](int64_t source) {
    return std::partition_point(rows_.begin(), rows_.end(), [&](const BilinearTap& t) { return t.first < source; }) -
           rows_.begin();
  };
  return {first_at(source_begin), std::max(first_at(source_begin), first_at(source_end))};
}

std::pair<int64_t, int64_t> BandedResizeArgmax::source_rows(int64_t begin, int64_t end) const {
  require(0 <= begin && begin < end && end <= static_cast<int64_t>(rows_.size()), "rows outside the output");
  return {rows_[size_t(begin)].first, rows_[size_t(end - 1)].second + 1};
}

void BandedResizeArgmax::rows(const float* band, int64_t band_first, int64_t band_rows, int64_t begin, int64_t end,
                              int32_t* labels, int64_t* counts) const {
  const int64_t height = static_cast<int64_t>(rows_.size());
  require(0 <= begin && begin <= end && end <= height, "rows outside the output");
  if (begin == end) return;
  require(rows_[size_t(begin)].first >= band_first && rows_[size_t(end - 1)].second < band_first + band_rows,
          "the band lacks source rows these output rows read");
#if SEGKIT_RESIZE_ARGMAX_AVX512
  const Problem p{band, band_first, in_width_, channels_, rows_.data(), cols_.data(), width_, scale_,
                  count_threshold_, labels};
  if (arithmetic_ == BilinearArithmetic::fused)
    run_rows<BilinearArithmetic::fused>(p, begin, end, counts);
  else
    run_rows<BilinearArithmetic::separate>(p, begin, end, counts);
#else
  (void)band;
  (void)labels;
  (void)counts;
#endif
}

at::Tensor resize_values(const at::Tensor& values_in, int64_t height, int64_t width) {
  const BilinearArithmetic arithmetic = check(values_in, height, width);
  const at::Tensor values = values_in.contiguous();
  const int64_t channels = values.size(2);
  const std::vector<BilinearTap> rows = bilinear_taps(values.size(0), height), cols = bilinear_taps(values.size(1), width);
  at::Tensor out = at::empty({height, width, channels}, at::kFloat);
#if SEGKIT_RESIZE_ARGMAX_AVX512
  const Problem p{values.data_ptr<float>(), 0, values.size(1), channels, rows.data(), cols.data(), width,
                  nullptr, 0.0f, nullptr};
  float* o = out.data_ptr<float>();
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      float* pixel = o + (y * width + x) * channels;
      if (arithmetic == BilinearArithmetic::fused)
        pixel_values<BilinearArithmetic::fused>(p, y, x, pixel);
      else
        pixel_values<BilinearArithmetic::separate>(p, y, x, pixel);
    }
#else
  (void)arithmetic;
#endif
  return out;
}

}  // namespace segkit::kernels
