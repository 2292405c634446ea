#include "kernels/cpu/window_attention.h"

#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_WINDOW_ATTENTION_AVX512 1
#define SEGKIT_WINDOW_TARGET __attribute__((target("avx512f")))
#define SEGKIT_WINDOW_INLINE SEGKIT_WINDOW_TARGET inline __attribute__((always_inline))
#define SEGKIT_WINDOW_PAIRS_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#include "kernels/cpu/avx512_kernel_file.h"
#include "kernels/cpu/avx512_pair_products.h"
#include "kernels/cpu/avx512_row_products.h"
#else
#define SEGKIT_WINDOW_ATTENTION_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "window_attention";
constexpr int64_t kMaxTokens = 256;
constexpr int64_t kLanes = 16;
constexpr int64_t kRows = 4;  // query rows of a block

inline int64_t round_up_rows(int64_t n) { return (n + kRows - 1) / kRows * kRows; }

struct Problem {
  int64_t windows, tokens, heads, head_dim;
  const void* qkv;  // W×T×3×heads×dh
  void* out;        // W×T×heads·dh
  const float* bias;
  const float* mask;  // null: none
  float scale;
};

#if SEGKIT_WINDOW_ATTENTION_AVX512
static_assert(kRows == avx512::kBlockRows, "row_block_scores makes blocks of kRows");
using avx512::first_lanes;
using avx512::load16;
using avx512::store16;

// One thread's window in float32, read once row by row (the order the hardware prefetches
// best): queries and values as T rows of C = heads·dh, keys transposed (C rows of `padded`
// keys, zeros past the last key); and a block's scores, then probabilities.
struct Buffers {
  std::vector<float> queries, keys, values, scores;
};

template <typename T>
SEGKIT_WINDOW_TARGET void unpack(const Problem& p, const T* window, int64_t padded, Buffers& b) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim;
  float* keys = b.keys.data();
  for (int64_t t = 0; t < n; ++t) {
    const T* row = window + t * 3 * C;
    for (int64_t c = 0; c < C; c += kLanes) _mm512_storeu_ps(b.queries.data() + t * C + c, load16(row + c));
    // Element by element from the source: a vector store read back a float at a time would
    // stall on store-to-load forwarding.
    for (int64_t c = 0; c < C; ++c) keys[c * padded + t] = static_cast<float>(row[C + c]);
    for (int64_t c = 0; c < C; c += kLanes) _mm512_storeu_ps(b.values.data() + t * C + c, load16(row + 2 * C + c));
  }
  for (int64_t c = 0; c < C; ++c) std::fill(keys + c * padded + n, keys + (c + 1) * padded, 0.0f);
}

// Row r's scores → unnormalised probabilities exp(s − max) in place (zero past the last key);
// returns 1 / their sum.
SEGKIT_WINDOW_TARGET float softmax_row(const Problem& p, float* s, const float* bias, const float* mask) {
  const int64_t n = p.tokens;
  const __m512 scale = _mm512_set1_ps(p.scale), minus_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vmax = minus_infinity;
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = first_lanes(n - j);
    __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(s + j), scale), _mm512_maskz_loadu_ps(m, bias + j));
    if (mask) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, mask + j));
    x = _mm512_mask_mov_ps(minus_infinity, m, x);
    _mm512_storeu_ps(s + j, x);
    vmax = _mm512_max_ps(vmax, x);
  }
  const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __m512 e = _mm512_maskz_mov_ps(first_lanes(n - j), avx512::exp(_mm512_sub_ps(_mm512_loadu_ps(s + j), row_max)));
    _mm512_storeu_ps(s + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// The steps of a block of query rows that do not depend on how the products run (float32 FMAs
// here, bfloat16 pairs below), shared by both.

// The block's scores (rows of `padded`) → unnormalised probabilities, row by row, with each
// row's 1 / sum; rows past the block's end: zero probabilities.
SEGKIT_WINDOW_INLINE void block_probabilities(const Problem& p, int64_t w, int64_t h, int64_t i0, int64_t rows,
                                              int64_t padded, float* scores, float (&inverse_sum)[kRows]) {
  const int64_t n = p.tokens;
  for (int64_t r = 0; r < kRows; ++r) {
    float* s = scores + r * padded;
    inverse_sum[r] = 0.0f;
    if (r >= rows) {
      std::fill(s, s + padded, 0.0f);
      continue;
    }
    const int64_t t = i0 + r;
    inverse_sum[r] = softmax_row(p, s, p.bias + (h * n + t) * n, p.mask ? p.mask + (w * n + t) * n : nullptr);
  }
}

template <int kDh>
SEGKIT_WINDOW_INLINE void zero(__m512 (&acc)[kRows][kDh]) {
  for (int64_t r = 0; r < kRows; ++r)
    for (int d = 0; d < kDh; ++d) acc[r][d] = _mm512_setzero_ps();
}

// Output rows [i0, i0 + rows) of head h (rows of C in `out`): the accumulated rows times their 1 / sum.
template <typename T, int kDh>
SEGKIT_WINDOW_INLINE void store_rows(const Problem& p, int64_t h, int64_t i0, int64_t rows,
                                     const float (&inverse_sum)[kRows], const __m512 (&acc)[kRows][kDh], T* out) {
  const int64_t dh = p.head_dim, C = p.heads * dh;
  for (int64_t r = 0; r < rows; ++r) {
    T* dst = out + (i0 + r) * C + h * dh;
    const __m512 inverse = _mm512_set1_ps(inverse_sum[r]);
    for (int d = 0; d < kDh; ++d) store16(dst + d * kLanes, _mm512_mul_ps(acc[r][d], inverse));
  }
}

// Query rows [i0, i0 + rows) of the unpacked window w and head h, kDh vectors of 16 head
// dimensions; rows past the block's end compute on zero queries and are never written.
template <typename T, int kDh>
SEGKIT_WINDOW_TARGET void attend_rows(const Problem& p, int64_t w, int64_t h, int64_t i0, int64_t rows, int64_t padded,
                                      Buffers& b, T* out) {
  const int64_t dh = p.head_dim, C = p.heads * dh;
  float* scores = b.scores.data();
  avx512::row_block_scores(b.queries.data() + i0 * C + h * dh, C, dh, b.keys.data() + h * dh * padded, padded, scores);
  float inverse_sum[kRows];
  block_probabilities(p, w, h, i0, rows, padded, scores, inverse_sum);
  __m512 acc[kRows][kDh];
  zero(acc);
  avx512::row_block_values<kDh>(scores, padded, b.values.data() + h * dh, C, p.tokens, acc);
  store_rows(p, h, i0, rows, inverse_sum, acc, out);
}

template <typename T, int kDh>
SEGKIT_WINDOW_TARGET void attend_windows(const Problem& p, int64_t begin, int64_t end) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim, padded = (n + kLanes - 1) / kLanes * kLanes;
  thread_local Buffers b;
  b.queries.resize(static_cast<size_t>((round_up_rows(n)) * C));
  b.keys.resize(static_cast<size_t>(C * padded));
  b.values.resize(static_cast<size_t>(n * C));
  b.scores.resize(static_cast<size_t>(kRows * padded));
  // Query rows past the last token (a partial last block) read zeros.
  std::fill(b.queries.begin() + n * C, b.queries.end(), 0.0f);
  const T* qkv = static_cast<const T*>(p.qkv);
  T* out = static_cast<T*>(p.out);
  for (int64_t w = begin; w < end; ++w) {
    unpack(p, qkv + w * n * 3 * C, padded, b);
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t i0 = 0; i0 < n; i0 += kRows)
        attend_rows<T, kDh>(p, w, h, i0, std::min(kRows, n - i0), padded, b, out + w * n * C);
  }
}

// With AVX-512 BF16 and a bfloat16 qkv, both products run on vdpbf16ps over units of two
// bfloat16 (avx512_pair_products.h): the window read as it is stored (no widening), the
// probabilities rounded to bfloat16 for their product with v. Queries as T rows of C/2 units,
// keys transposed (C/2 rows of `padded` keys, unit = two dimensions of a key), values in rows
// of C units, unit = one dimension of two neighbouring keys; zeros past the last key.
struct PairBuffers {
  std::vector<uint32_t> queries, keys, values, probabilities;
  std::vector<float> scores;
};

SEGKIT_WINDOW_PAIRS_TARGET void unpack_pairs(const Problem& p, const uint16_t* window, int64_t padded, PairBuffers& b) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim, units = C / 2;
  uint32_t* keys = b.keys.data();
  for (int64_t t = 0; t < n; ++t) {
    const uint16_t* row = window + t * 3 * C;
    std::memcpy(b.queries.data() + t * units, row, units * sizeof(uint32_t));
    for (int64_t u = 0; u < units; ++u) std::memcpy(keys + u * padded + t, row + C + 2 * u, sizeof(uint32_t));
  }
  for (int64_t u = 0; u < units; ++u) std::fill(keys + u * padded + n, keys + (u + 1) * padded, 0u);
  for (int64_t t = 0; t < n; t += 2)
    avx512::interleave_keys(window + t * 3 * C + 2 * C, t + 1 < n ? window + (t + 1) * 3 * C + 2 * C : nullptr, C,
                            b.values.data() + t / 2 * C);
}

// attend_rows on the unpacked pairs.
template <int kDh>
SEGKIT_WINDOW_PAIRS_TARGET void attend_rows_pairs(const Problem& p, int64_t w, int64_t h, int64_t i0, int64_t rows,
                                                  int64_t padded, PairBuffers& b, c10::BFloat16* out) {
  const int64_t dh = p.head_dim, C = p.heads * dh, units = C / 2;
  float* scores = b.scores.data();
  avx512::unit_block_scores(b.queries.data() + i0 * units + h * dh / 2, units, dh / 2,
                            b.keys.data() + h * dh / 2 * padded, padded, scores);
  float inverse_sum[kRows];
  block_probabilities(p, w, h, i0, rows, padded, scores, inverse_sum);
  avx512::store_unit_rows(scores, padded, b.probabilities.data());
  __m512 acc[kRows][kDh];
  zero(acc);
  avx512::unit_block_values<kDh>(b.probabilities.data(), padded / 2, b.values.data() + h * dh, C, (p.tokens + 1) / 2, acc);
  store_rows(p, h, i0, rows, inverse_sum, acc, out);
}

template <int kDh>
SEGKIT_WINDOW_PAIRS_TARGET void attend_windows_pairs(const Problem& p, int64_t begin, int64_t end) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim, padded = (n + kLanes - 1) / kLanes * kLanes;
  thread_local PairBuffers b;
  b.queries.resize(static_cast<size_t>(round_up_rows(n) * C / 2));
  b.keys.resize(static_cast<size_t>(C / 2 * padded));
  b.values.resize(static_cast<size_t>(padded / 2 * C));
  b.probabilities.resize(static_cast<size_t>(kRows * padded / 2));
  b.scores.resize(static_cast<size_t>(kRows * padded));
  // Query rows past the last token (a partial last block) read zeros.
  std::fill(b.queries.begin() + n * C / 2, b.queries.end(), 0u);
  const auto* qkv = static_cast<const uint16_t*>(p.qkv);
  auto* out = static_cast<c10::BFloat16*>(p.out);
  for (int64_t w = begin; w < end; ++w) {
    unpack_pairs(p, qkv + w * n * 3 * C, padded, b);
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t i0 = 0; i0 < n; i0 += kRows)
        attend_rows_pairs<kDh>(p, w, h, i0, std::min(kRows, n - i0), padded, b, out + w * n * C);
  }
}

template <typename T>
void attend_all(const Problem& p) {
  const bool pairs = std::is_same_v<T, c10::BFloat16> && core::cpu_has_avx512_bf16();
  torch_parallel_for(0, p.windows, 1, [&](int64_t begin, int64_t end) {
    switch (p.head_dim / kLanes) {
      case 1: pairs ? attend_windows_pairs<1>(p, begin, end) : attend_windows<T, 1>(p, begin, end); break;
      case 2: pairs ? attend_windows_pairs<2>(p, begin, end) : attend_windows<T, 2>(p, begin, end); break;
      case 3: pairs ? attend_windows_pairs<3>(p, begin, end) : attend_windows<T, 3>(p, begin, end); break;
      default: pairs ? attend_windows_pairs<4>(p, begin, end) : attend_windows<T, 4>(p, begin, end); break;
    }
  });
}
#endif

}  // namespace

bool window_attention_supports(const at::Tensor& qkv) {
  if (!SEGKIT_WINDOW_ATTENTION_AVX512 || !core::cpu_has_avx512() || !hand_written_path({&qkv})) return false;
  if (qkv.dim() != 5 || qkv.size(2) != 3 || !qkv.is_contiguous()) return false;
  if (qkv.scalar_type() != at::kFloat && qkv.scalar_type() != at::kBFloat16) return false;
  const int64_t dh = qkv.size(4);
  return qkv.size(1) >= 1 && qkv.size(1) <= kMaxTokens && dh % kLanes == 0 && dh >= kLanes && dh <= 4 * kLanes;
}

at::Tensor window_attention(const at::Tensor& qkv, double scale, const at::Tensor& bias, const at::Tensor& mask) {
  require_cpu(kName, {&qkv, &bias, &mask});
  if (!window_attention_supports(qkv)) fail(kName, "qkv of an unsupported type, layout or size (window_attention_supports)");
  const int64_t windows = qkv.size(0), tokens = qkv.size(1), heads = qkv.size(3), head_dim = qkv.size(4);
  auto float_contiguous = [](const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.is_contiguous(); };
  if (!bias.defined() || !float_contiguous(bias) || bias.sizes() != at::IntArrayRef({heads, tokens, tokens}))
    fail(kName, "bias must be contiguous float32 heads×T×T");
  if (mask.defined() && (!float_contiguous(mask) || mask.sizes() != at::IntArrayRef({windows, tokens, tokens})))
    fail(kName, "mask must be contiguous float32 W×T×T");
  at::Tensor out = at::empty({windows, tokens, heads * head_dim}, qkv.options());
  if (out.numel() == 0) return out;
#if SEGKIT_WINDOW_ATTENTION_AVX512
  const Problem p{windows, tokens, heads, head_dim, qkv.data_ptr(), out.data_ptr(), bias.data_ptr<float>(),
                  mask.defined() ? mask.data_ptr<float>() : nullptr, static_cast<float>(scale)};
  if (qkv.scalar_type() == at::kFloat) attend_all<float>(p);
  else attend_all<c10::BFloat16>(p);
#endif
  return out;
}

}  // namespace segkit::kernels
