#include "kernels/cpu/masked_attention.h"

#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_MASKED_ATTENTION_AVX512 1
#define SEGKIT_MASKED_TARGET __attribute__((target("avx512f")))
#define SEGKIT_MASKED_INLINE SEGKIT_MASKED_TARGET inline __attribute__((always_inline))
#define SEGKIT_MASKED_PAIRS_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#include "kernels/cpu/avx512_kernel_file.h"
#include "kernels/cpu/avx512_pair_products.h"
#include "kernels/cpu/avx512_row_products.h"
#else
#define SEGKIT_MASKED_ATTENTION_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "masked_attention";
constexpr int64_t kLanes = 16;
constexpr int64_t kRows = 4;    // query rows of a block
constexpr int64_t kKeys = 256;  // keys of a block: their k and v (64 KB at dh 32) stay in L2

struct Problem {
  int64_t batch, queries, keys, heads, head_dim;
  const float* q;
  const void* k;
  const void* v;
  const bool* blocked;  // null: none
  float* out;
  float scale;
};

#if SEGKIT_MASKED_ATTENTION_AVX512
static_assert(kRows == avx512::kBlockRows, "row_block_scores makes blocks of kRows");
using avx512::first_lanes;
using avx512::load16;

// One thread's state for a (batch item, head): the running output, maximum and sum of every
// query; the key block's keys transposed (dh rows of `padded`) and values (rows of dh) in
// float32; a query block and its scores, then probabilities. The products on bfloat16 pairs
// read the *_pairs buffers instead (unpack_pairs below).
struct State {
  std::vector<float> out, max, sum, keys, values, queries, scores;
  std::vector<uint32_t> key_pairs, value_pairs, query_pairs, probability_pairs;
};

// Keys [j0, j0 + n) of item b, head h into the block buffers (zero keys up to `padded`).
template <typename T>
SEGKIT_MASKED_TARGET void unpack_keys(const Problem& p, int64_t b, int64_t h, int64_t j0, int64_t n, int64_t padded,
                                      State& s) {
  const int64_t dh = p.head_dim, C = p.heads * dh;
  const T* k = static_cast<const T*>(p.k) + (b * p.keys + j0) * C + h * dh;
  const T* v = static_cast<const T*>(p.v) + (b * p.keys + j0) * C + h * dh;
  float* keys = s.keys.data();
  // Each key's head is a short piece of a long row: the hardware prefetcher does not run ahead.
  constexpr int64_t kAhead = 8;
  const int64_t row_bytes = dh * static_cast<int64_t>(sizeof(T));
  for (int64_t j = 0; j < n; ++j) {
    if (j0 + j + kAhead < p.keys)  // the next block's first keys too
      for (int64_t byte = 0; byte < row_bytes; byte += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(k + (j + kAhead) * C) + byte, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(v + (j + kAhead) * C) + byte, _MM_HINT_T0);
      }
    // Element by element from the source: a vector store read back a float at a time would
    // stall on store-to-load forwarding.
    for (int64_t c = 0; c < dh; ++c) keys[c * padded + j] = static_cast<float>(k[j * C + c]);
    for (int64_t c = 0; c < dh; c += kLanes) _mm512_storeu_ps(s.values.data() + j * dh + c, load16(v + j * C + c));
  }
  for (int64_t c = 0; c < dh; ++c) std::fill(keys + c * padded + n, keys + (c + 1) * padded, 0.0f);
}

// Query i's scores against the block's n keys → probabilities exp(s − m) in place (0 for keys
// blocked or past the end), with its running maximum m and sum updated; returns the factor
// that rescales its output so far (1 where the block has no key for it).
SEGKIT_MASKED_TARGET float block_softmax(const Problem& p, float* s, const bool* blocked, int64_t n, float& max,
                                         float& sum) {
  const __m512 scale = _mm512_set1_ps(p.scale), minus_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vmax = minus_infinity;
  for (int64_t j = 0; j < n; j += kLanes) {
    __mmask16 m = first_lanes(n - j);
    if (blocked) {
      __m128i bytes;
      if (n - j >= kLanes) {
        bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocked + j));
      } else {  // the row's tail: read no byte past it
        alignas(16) bool tail[kLanes] = {};
        std::copy(blocked + j, blocked + n, tail);
        bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
      }
      const __m512i flags = _mm512_cvtepu8_epi32(bytes);
      m &= _mm512_testn_epi32_mask(flags, flags);
    }
    const __m512 x = _mm512_mask_mul_ps(minus_infinity, m, _mm512_loadu_ps(s + j), scale);
    _mm512_storeu_ps(s + j, x);
    vmax = _mm512_max_ps(vmax, x);
  }
  const float block_max = _mm512_reduce_max_ps(vmax);
  if (block_max == -std::numeric_limits<float>::infinity()) {  // every key here blocked
    std::fill(s, s + n, 0.0f);
    return 1.0f;
  }
  const float new_max = std::max(max, block_max);
  const float rescale = max == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(max - new_max);
  const __m512 row_max = _mm512_set1_ps(new_max);
  __m512 total = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    // exp(−∞) here is avx512::exp's floor (1e-38), not 0: blocked lanes are zeroed by compare.
    const __m512 x = _mm512_loadu_ps(s + j);
    const __mmask16 open = _mm512_cmp_ps_mask(x, minus_infinity, _CMP_NEQ_OQ) & first_lanes(n - j);
    const __m512 e = _mm512_maskz_mov_ps(open, avx512::exp(_mm512_sub_ps(x, row_max)));
    _mm512_storeu_ps(s + j, e);
    total = _mm512_add_ps(total, e);
  }
  sum = sum * rescale + _mm512_reduce_add_ps(total);
  max = new_max;
  return rescale;
}

// The steps of a block of query rows that do not depend on how the products run (float32 FMAs
// here, bfloat16 pairs below), shared by both.

// The block's scores (rows of `padded`) → probabilities, row by row (block_softmax), with the
// factor that rescales each row's output so far; rows past the last query: zero probabilities,
// factor 1 (their output is never stored).
SEGKIT_MASKED_INLINE void block_probabilities(const Problem& p, int64_t b, int64_t i0, int64_t rows, int64_t j0,
                                              int64_t n, int64_t padded, State& s, float (&rescale)[kRows]) {
  for (int64_t r = 0; r < kRows; ++r) {
    float* row = s.scores.data() + r * padded;
    rescale[r] = 1.0f;
    if (r >= rows) {
      std::fill(row, row + padded, 0.0f);
      continue;
    }
    const int64_t i = i0 + r;
    const bool* blocked = p.blocked ? p.blocked + (b * p.queries + i) * p.keys + j0 : nullptr;
    rescale[r] = block_softmax(p, row, blocked, n, s.max[size_t(i)], s.sum[size_t(i)]);
  }
}

// The block's running outputs (rows of dh from query i0 on; spare rows past the last query at
// the end of s.out) into acc, rescaled, and back.
template <int kDh>
SEGKIT_MASKED_INLINE void load_outputs(const Problem& p, int64_t i0, const State& s, const float (&rescale)[kRows],
                                       __m512 (&acc)[kRows][kDh]) {
  const float* out = s.out.data() + i0 * p.head_dim;
  for (int64_t r = 0; r < kRows; ++r)
    for (int d = 0; d < kDh; ++d)
      acc[r][d] = _mm512_mul_ps(_mm512_loadu_ps(out + r * p.head_dim + d * kLanes), _mm512_set1_ps(rescale[r]));
}
template <int kDh>
SEGKIT_MASKED_INLINE void store_outputs(const Problem& p, int64_t i0, const __m512 (&acc)[kRows][kDh], State& s) {
  float* out = s.out.data() + i0 * p.head_dim;
  for (int64_t r = 0; r < kRows; ++r)
    for (int d = 0; d < kDh; ++d) _mm512_storeu_ps(out + r * p.head_dim + d * kLanes, acc[r][d]);
}

// Queries [i0, i0 + rows) of item b and head h against the unpacked key block [j0, j0 + n).
template <int kDh>
SEGKIT_MASKED_TARGET void attend_block(const Problem& p, int64_t b, int64_t h, int64_t i0, int64_t rows, int64_t j0,
                                       int64_t n, int64_t padded, State& s) {
  const int64_t dh = p.head_dim, C = p.heads * dh;
  float* q = s.queries.data();
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < dh; c += kLanes)
      _mm512_storeu_ps(q + r * dh + c,
                       r < rows ? _mm512_loadu_ps(p.q + (b * p.queries + i0 + r) * C + h * dh + c) : _mm512_setzero_ps());
  avx512::row_block_scores(q, dh, dh, s.keys.data(), padded, s.scores.data());
  float rescale[kRows];
  block_probabilities(p, b, i0, rows, j0, n, padded, s, rescale);
  __m512 acc[kRows][kDh];
  load_outputs(p, i0, s, rescale, acc);
  avx512::row_block_values<kDh>(s.scores.data(), padded, s.values.data(), dh, n, acc);
  store_outputs(p, i0, acc, s);
}

// With AVX-512 BF16 and bfloat16 k and v, both products run on vdpbf16ps, which multiplies
// pairs of bfloat16 and sums each pair into a float32 lane: half the steps of the float32 FMAs.
// The queries and the probabilities are rounded to bfloat16 for them (the softmax itself stays
// float32). A unit below is a 32-bit pair of bfloat16.

// Keys [j0, j0 + n) of item b, head h: unit (u, j) = dimensions 2u, 2u + 1 of key j, `padded`
// units a row; values: unit (t, c) = dimension c of keys 2t and 2t + 1, dh units a row. Zero
// past the n keys.
SEGKIT_MASKED_PAIRS_TARGET void unpack_pairs(const Problem& p, int64_t b, int64_t h, int64_t j0, int64_t n,
                                             int64_t padded, State& s) {
  const int64_t dh = p.head_dim, C = p.heads * dh, units = dh / 2;
  const auto* k = static_cast<const uint16_t*>(p.k) + (b * p.keys + j0) * C + h * dh;
  const auto* v = static_cast<const uint16_t*>(p.v) + (b * p.keys + j0) * C + h * dh;
  uint32_t* keys = s.key_pairs.data();
  constexpr int64_t kAhead = 8;  // as unpack_keys
  const int64_t row_bytes = dh * static_cast<int64_t>(sizeof(uint16_t));
  for (int64_t j = 0; j < n; ++j) {
    if (j0 + j + kAhead < p.keys)
      for (int64_t byte = 0; byte < row_bytes; byte += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(k + (j + kAhead) * C) + byte, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(v + (j + kAhead) * C) + byte, _MM_HINT_T0);
      }
    for (int64_t u = 0; u < units; ++u) std::memcpy(keys + u * padded + j, k + j * C + 2 * u, sizeof(uint32_t));
  }
  for (int64_t u = 0; u < units; ++u) std::fill(keys + u * padded + n, keys + (u + 1) * padded, 0u);
  for (int64_t j = 0; j < padded; j += 2)
    avx512::interleave_keys(j < n ? v + j * C : nullptr, j + 1 < n ? v + (j + 1) * C : nullptr, dh,
                            s.value_pairs.data() + j / 2 * dh);
}

// Queries [i0, i0 + rows) of item b and head h against the unpacked key block [j0, j0 + n), as
// attend_block with the products on pairs.
template <int kDh>
SEGKIT_MASKED_PAIRS_TARGET void attend_block_pairs(const Problem& p, int64_t b, int64_t h, int64_t i0, int64_t rows,
                                                   int64_t j0, int64_t n, int64_t padded, State& s) {
  const int64_t dh = p.head_dim, C = p.heads * dh, units = dh / 2;
  uint32_t* q = s.query_pairs.data();
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < dh; c += kLanes) {
      const float* row = p.q + (b * p.queries + i0 + r) * C + h * dh + c;
      avx512::store_units(q + (r * dh + c) / 2, r < rows ? _mm512_loadu_ps(row) : _mm512_setzero_ps());
    }
  avx512::unit_block_scores(q, units, units, s.key_pairs.data(), padded, s.scores.data());
  float rescale[kRows];
  block_probabilities(p, b, i0, rows, j0, n, padded, s, rescale);
  avx512::store_unit_rows(s.scores.data(), padded, s.probability_pairs.data());
  __m512 acc[kRows][kDh];
  load_outputs(p, i0, s, rescale, acc);
  avx512::unit_block_values<kDh>(s.probability_pairs.data(), padded / 2, s.value_pairs.data(), dh, (n + 1) / 2, acc);
  store_outputs(p, i0, acc, s);
}

// kPairs: the products on pairs of bfloat16 (T is bfloat16 then).
template <typename T, int kDh, bool kPairs>
SEGKIT_MASKED_TARGET void attend_head(const Problem& p, int64_t b, int64_t h, State& s) {
  const int64_t dh = p.head_dim, C = p.heads * dh, Q = p.queries;
  const int64_t rows_rounded = (Q + kRows - 1) / kRows * kRows;
  s.out.assign(static_cast<size_t>(rows_rounded * dh), 0.0f);
  s.max.assign(static_cast<size_t>(Q), -std::numeric_limits<float>::infinity());
  s.sum.assign(static_cast<size_t>(Q), 0.0f);
  for (int64_t j0 = 0; j0 < p.keys; j0 += kKeys) {
    const int64_t n = std::min(kKeys, p.keys - j0), padded = (n + kLanes - 1) / kLanes * kLanes;
    if constexpr (kPairs) {
      unpack_pairs(p, b, h, j0, n, padded, s);
      for (int64_t i0 = 0; i0 < Q; i0 += kRows)
        attend_block_pairs<kDh>(p, b, h, i0, std::min(kRows, Q - i0), j0, n, padded, s);
    } else {
      unpack_keys<T>(p, b, h, j0, n, padded, s);
      for (int64_t i0 = 0; i0 < Q; i0 += kRows)
        attend_block<kDh>(p, b, h, i0, std::min(kRows, Q - i0), j0, n, padded, s);
    }
  }
  for (int64_t i = 0; i < Q; ++i) {
    float* dst = p.out + (b * Q + i) * C + h * dh;
    const __m512 inverse = _mm512_set1_ps(1.0f / s.sum[size_t(i)]);  // 1/0: NaN output for a query blocked everywhere
    for (int64_t c = 0; c < dh; c += kLanes)
      _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_loadu_ps(s.out.data() + i * dh + c), inverse));
  }
}

template <typename T, bool kPairs>
void attend_all(const Problem& p) {
  torch_parallel_for(0, p.batch * p.heads, 1, [&](int64_t begin, int64_t end) {
    thread_local State s;
    const auto size = [](int64_t n) { return static_cast<size_t>(n); };
    if (kPairs) {
      s.key_pairs.resize(size(p.head_dim / 2 * kKeys));
      s.value_pairs.resize(size(kKeys / 2 * p.head_dim));
      s.query_pairs.resize(size(kRows * p.head_dim / 2));
      s.probability_pairs.resize(size(kRows * kKeys / 2));
    } else {
      s.keys.resize(size(p.head_dim * kKeys));
      s.values.resize(size(kKeys * p.head_dim));
      s.queries.resize(size(kRows * p.head_dim));
    }
    s.scores.resize(size(kRows * kKeys));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / p.heads, h = task % p.heads;
      switch (p.head_dim / kLanes) {
        case 1: attend_head<T, 1, kPairs>(p, b, h, s); break;
        case 2: attend_head<T, 2, kPairs>(p, b, h, s); break;
        case 3: attend_head<T, 3, kPairs>(p, b, h, s); break;
        default: attend_head<T, 4, kPairs>(p, b, h, s); break;
      }
    }
  });
}
#endif

bool float_or_bfloat16(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16;
}

}  // namespace

bool masked_attention_supports(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads) {
  if (!SEGKIT_MASKED_ATTENTION_AVX512 || !core::cpu_has_avx512() || !hand_written_path({&q, &k, &v})) return false;
  if (q.dim() != 3 || k.dim() != 3 || v.sizes() != k.sizes() || q.size(0) != k.size(0) || q.size(2) != k.size(2))
    return false;
  if (q.scalar_type() != at::kFloat || !float_or_bfloat16(k) || v.scalar_type() != k.scalar_type()) return false;
  if (!q.is_contiguous() || !k.is_contiguous() || !v.is_contiguous() || heads <= 0 || q.size(2) % heads != 0) return false;
  const int64_t dh = q.size(2) / heads;
  return dh % kLanes == 0 && dh >= kLanes && dh <= 4 * kLanes;
}

at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                            int64_t heads, double scale) {
  require_cpu(kName, {&q, &k, &v, &blocked});
  if (!masked_attention_supports(q, k, v, heads))
    fail(kName, "q, k or v of an unsupported type, layout or size (masked_attention_supports)");
  const int64_t batch = q.size(0), queries = q.size(1), keys = k.size(1);
  if (blocked.defined() && (blocked.scalar_type() != at::kBool || !blocked.is_contiguous() ||
                            blocked.sizes() != at::IntArrayRef({batch, queries, keys})))
    fail(kName, "blocked must be a contiguous boolean B×Q×L tensor");
  at::Tensor out = at::empty(q.sizes(), q.options());
  if (out.numel() == 0) return out;
  if (keys == 0) return out.fill_(std::numeric_limits<float>::quiet_NaN());  // softmax over no keys
#if SEGKIT_MASKED_ATTENTION_AVX512
  const Problem p{batch,
                  queries,
                  keys,
                  heads,
                  q.size(2) / heads,
                  q.data_ptr<float>(),
                  k.data_ptr(),
                  v.data_ptr(),
                  blocked.defined() ? blocked.data_ptr<bool>() : nullptr,
                  out.data_ptr<float>(),
                  static_cast<float>(scale)};
  if (k.scalar_type() == at::kFloat) attend_all<float, false>(p);
  else if (core::cpu_has_avx512_bf16()) attend_all<c10::BFloat16, true>(p);
  else attend_all<c10::BFloat16, false>(p);
#endif
  return out;
}

}  // namespace segkit::kernels
