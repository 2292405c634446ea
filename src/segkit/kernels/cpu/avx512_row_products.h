#pragma once
// The two product steps of the small fused attention kernels (window_attention,
// masked_attention) for a block of four query rows: their scores against keys stored transposed
// (depth rows of `padded` keys, a multiple of 16), in registers four vectors of keys at a time,
// and their probabilities times the values, into accumulators the caller holds. Include only from
// x86-64 code compiled with GCC or clang; the functions carry their own instruction-set target
// and inline into callers whose target includes AVX-512F.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace segkit::kernels::avx512 {

constexpr int64_t kBlockRows = 4;

#define SEGKIT_AVX512_PRODUCTS inline __attribute__((target("avx512f"), always_inline))

// acc[r][d] += Σ_{j < n} p[r·p_stride + j] · values[j·v_stride + 16·d + lane], for r < 4 and
// d < kDh (the head's 16·kDh dimensions).
template <int kDh>
SEGKIT_AVX512_PRODUCTS void row_block_values(const float* p, int64_t p_stride, const float* values, int64_t v_stride,
                                             int64_t n, __m512 (&acc)[kBlockRows][kDh]) {
  for (int64_t j = 0; j < n; ++j) {
    __m512 v[kDh];
    for (int d = 0; d < kDh; ++d) v[d] = _mm512_loadu_ps(values + j * v_stride + d * 16);
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const __m512 pr = _mm512_set1_ps(p[r * p_stride + j]);
      for (int d = 0; d < kDh; ++d) acc[r][d] = _mm512_fmadd_ps(pr, v[d], acc[r][d]);
    }
  }
}

// scores[r][16·v0 + 16·v + lane] = Σ_c q[r·q_stride + c] · keys[c·padded + 16·(v0 + v) + lane]
// for r < 4, v < kVectors.
template <int kVectors>
SEGKIT_AVX512_PRODUCTS void row_block_products(const float* q, int64_t q_stride, int64_t depth, const float* keys,
                                               int64_t padded, int64_t v0, float* scores) {
  __m512 acc[kBlockRows][kVectors];
  for (int64_t r = 0; r < kBlockRows; ++r)
    for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_setzero_ps();
  // The same step as the values': the transposed keys' rows play the value rows.
  row_block_values<kVectors>(q, q_stride, keys + v0 * 16, padded, depth, acc);
  for (int64_t r = 0; r < kBlockRows; ++r)
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(scores + r * padded + (v0 + v) * 16, acc[r][v]);
}

// The block's scores against all `padded` keys: scores is 4 rows of `padded`.
SEGKIT_AVX512_PRODUCTS void row_block_scores(const float* q, int64_t q_stride, int64_t depth, const float* keys,
                                             int64_t padded, float* scores) {
  const int64_t vectors = padded / 16;
  for (int64_t v0 = 0; v0 < vectors; v0 += 4) {
    switch (std::min<int64_t>(4, vectors - v0)) {
      case 1: row_block_products<1>(q, q_stride, depth, keys, padded, v0, scores); break;
      case 2: row_block_products<2>(q, q_stride, depth, keys, padded, v0, scores); break;
      case 3: row_block_products<3>(q, q_stride, depth, keys, padded, v0, scores); break;
      default: row_block_products<4>(q, q_stride, depth, keys, padded, v0, scores); break;
    }
  }
}

#undef SEGKIT_AVX512_PRODUCTS

}  // namespace segkit::kernels::avx512
