#pragma once
// The two product steps of the small fused attention kernels (window_attention,
// masked_attention) on bfloat16 for a block of four query rows, as avx512_row_products.h does
// them in float32: AVX-512 BF16's vdpbf16ps multiplies a pair of bfloat16 by a pair and adds
// both products to a float32 lane, half the steps of float32 FMAs. A unit is such a pair (32
// bits): the queries and probabilities in units along the depth, the keys transposed with a
// unit of two dimensions per key, the values with a unit of two keys per dimension. Include
// only from x86-64 code compiled with GCC or clang; the functions carry their own
// instruction-set target and inline into callers whose target includes AVX-512 BF16.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/avx512_row_products.h"

namespace segkit::kernels::avx512 {

#define SEGKIT_AVX512_PAIRS inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline))

// 16 float32 lanes rounded to bfloat16 (to nearest, ties to even) into 8 units at out.
SEGKIT_AVX512_PAIRS void store_units(uint32_t* out, __m512 x) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), (__m256i)_mm512_cvtneps_pbh(x));
}

// A block's 4 rows of `padded` float32 (a multiple of 16) rounded to units: unit t of row r
// holds its columns 2t and 2t + 1, at out[r·padded/2 + t].
SEGKIT_AVX512_PAIRS void store_unit_rows(const float* rows, int64_t padded, uint32_t* out) {
  for (int64_t i = 0; i < kBlockRows * padded; i += 16) store_units(out + i / 2, _mm512_loadu_ps(rows + i));
}

// scores[r·padded + 16·(v0 + v) + lane] = Σ_{u < units} q[r·q_stride + u] · keys[u·padded +
// 16·(v0 + v) + lane] for r < 4, v < kVectors.
template <int kVectors>
SEGKIT_AVX512_PAIRS void unit_products(const uint32_t* q, int64_t q_stride, int64_t units, const uint32_t* keys,
                                       int64_t padded, int64_t v0, float* scores) {
  __m512 acc[kBlockRows][kVectors];
  for (int64_t r = 0; r < kBlockRows; ++r)
    for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t u = 0; u < units; ++u) {
    __m512i k[kVectors];
    for (int v = 0; v < kVectors; ++v) k[v] = _mm512_loadu_si512(keys + u * padded + (v0 + v) * 16);
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const __m512bh qr = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[r * q_stride + u]));
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], qr, (__m512bh)k[v]);
    }
  }
  for (int64_t r = 0; r < kBlockRows; ++r)
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(scores + r * padded + (v0 + v) * 16, acc[r][v]);
}

// The block's scores against all `padded` keys (a multiple of 16): scores is 4 rows of `padded`.
SEGKIT_AVX512_PAIRS void unit_block_scores(const uint32_t* q, int64_t q_stride, int64_t units, const uint32_t* keys,
                                           int64_t padded, float* scores) {
  const int64_t vectors = padded / 16;
  for (int64_t v0 = 0; v0 < vectors; v0 += 4) {
    switch (std::min<int64_t>(4, vectors - v0)) {
      case 1: unit_products<1>(q, q_stride, units, keys, padded, v0, scores); break;
      case 2: unit_products<2>(q, q_stride, units, keys, padded, v0, scores); break;
      case 3: unit_products<3>(q, q_stride, units, keys, padded, v0, scores); break;
      default: unit_products<4>(q, q_stride, units, keys, padded, v0, scores); break;
    }
  }
}

// acc[r][d] += Σ_{t < pairs} p[r·p_stride + t] · values[t·v_stride + 16·d + lane], for r < 4 and
// d < kDh: p's unit t holds the probabilities of keys 2t and 2t + 1, values' unit the same two
// keys' values of one dimension.
template <int kDh>
SEGKIT_AVX512_PAIRS void unit_block_values(const uint32_t* p, int64_t p_stride, const uint32_t* values,
                                           int64_t v_stride, int64_t pairs, __m512 (&acc)[kBlockRows][kDh]) {
  for (int64_t t = 0; t < pairs; ++t) {
    __m512i v[kDh];
    for (int d = 0; d < kDh; ++d) v[d] = _mm512_loadu_si512(values + t * v_stride + d * 16);
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const __m512bh pr = (__m512bh)_mm512_set1_epi32(static_cast<int>(p[r * p_stride + t]));
      for (int d = 0; d < kDh; ++d) acc[r][d] = _mm512_dpbf16_ps(acc[r][d], pr, (__m512bh)v[d]);
    }
  }
}

// Units of two keys' values from bfloat16 rows `lo` and `hi` (null: a zero key), `width`
// dimensions (a multiple of 16) from each: unit c = (lo[c], hi[c]).
SEGKIT_AVX512_PAIRS void interleave_keys(const uint16_t* lo, const uint16_t* hi, int64_t width, uint32_t* out) {
  for (int64_t c = 0; c < width; c += 16) {
    const __m512i l = lo ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + c)))
                         : _mm512_setzero_si512();
    const __m512i h = hi ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + c)))
                         : _mm512_setzero_si512();
    _mm512_storeu_si512(out + c, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
  }
}

#undef SEGKIT_AVX512_PAIRS

}  // namespace segkit::kernels::avx512
