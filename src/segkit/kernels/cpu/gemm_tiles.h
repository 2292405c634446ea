#pragma once
// Register-tile products for the hand-written AVX-512 kernels: C (+)= A·B in float32 from rows of
// 32-bit units and a B packed in 64-column panels, the packing (16×16 transposes in registers).
// Written once for both element types; included by flash_attention_softmax.h (the driver's), so
// only by files that define SEGKIT_KERNEL_TARGET first, the instruction sets their copy may use
// (only these functions use AVX-512: the rest of the build stays portable, and a kernel runs
// only after the CPU check). An element trait E provides:
//   broadcast(unit)     a unit in every lane;
//   madd(acc, a, b)     acc + the products of 16 lanes of units, summed within each unit.
// Sizes along a product's depth are in units: a bfloat16 unit is a pair, which vdpbf16ps
// multiplies and sums in one step.
#ifndef SEGKIT_KERNEL_TARGET
#error "define SEGKIT_KERNEL_TARGET (the instruction sets of this copy) before including gemm_tiles.h"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report from every caller.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// Helpers taking or returning vectors are inlined into their callers (same target), never
// called across targets.
#define SEGKIT_KERNEL_INLINE SEGKIT_KERNEL_TARGET inline __attribute__((always_inline))

// In an anonymous namespace: each per-target copy is its own.
namespace segkit::kernels::fused {
namespace {

constexpr int64_t kLanes = 16;
constexpr int kTileRows = 6;  // 6 rows × 4 vectors: 24 accumulators of 32 registers
constexpr int kTileVectors = 4;
constexpr int64_t kPanel = kLanes * kTileVectors;  // columns of a packed panel

inline int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }
inline int64_t whole_vectors(int64_t n) { return round_up(n, kLanes); }

// acc[r][·] = Σ_p a[r][p] · b[p][·] for MR rows and 16·NV columns, over `depth` units: a's
// rows have stride lda, b is packed (ldb units from one unit row to the next).
template <class E, int MR, int NV>
SEGKIT_KERNEL_INLINE void tile_products(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t depth,
                                        __m512 (&acc)[MR][NV]) {
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < depth; ++p) {
    __m512i bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_si512(b + p * ldb + kLanes * v);
    for (int r = 0; r < MR; ++r) {
      const auto av = E::broadcast(a[r * lda + p]);
      for (int v = 0; v < NV; ++v) acc[r][v] = E::madd(acc[r][v], av, bv[v]);
    }
  }
}

// c = alpha · the tile's products, or c += them.
template <class E, int MR, int NV>
SEGKIT_KERNEL_TARGET void dot_tile(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t depth,
                                   float* c, int64_t ldc, float alpha, bool accumulate) {
  __m512 acc[MR][NV];
  tile_products<E>(a, lda, b, ldb, depth, acc);
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      float* out = c + r * ldc + kLanes * v;
      if (accumulate) _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), acc[r][v]));
      else _mm512_storeu_ps(out, _mm512_mul_ps(acc[r][v], _mm512_set1_ps(alpha)));
    }
}

using TileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, float*, int64_t, float, bool);

template <class E, int MR>
TileFn tile_for(int nv) {
  return nv == 1 ? dot_tile<E, MR, 1> : nv == 2 ? dot_tile<E, MR, 2> : nv == 3 ? dot_tile<E, MR, 3> : dot_tile<E, MR, 4>;
}

template <class E>
TileFn tile(int mr, int nv) {
  switch (mr) {
    case 1: return tile_for<E, 1>(nv);
    case 2: return tile_for<E, 2>(nv);
    case 3: return tile_for<E, 3>(nv);
    case 4: return tile_for<E, 4>(nv);
    case 5: return tile_for<E, 5>(nv);
    default: return tile_for<E, 6>(nv);
  }
}

// C[rows × cols] (+)= alpha · A[rows × depth units] · B, cols a multiple of 16, in register
// tiles. B is packed in panels of 64 columns (the last one may be narrower), `panel_stride`
// units apart, each depth × width units: a tile's whole B panel is contiguous.
template <class E>
void dot(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t panel_stride, int64_t depth, float* c, int64_t ldc,
         int64_t rows, int64_t cols, float alpha, bool accumulate) {
  for (int64_t c0 = 0; c0 < cols; c0 += kPanel) {
    const int64_t width = std::min(kPanel, cols - c0);
    const uint32_t* panel = b + c0 / kPanel * panel_stride;
    const TileFn fn_rows = tile<E>(kTileRows, static_cast<int>(width / kLanes));
    int64_t r0 = 0;
    for (; r0 + kTileRows <= rows; r0 += kTileRows)
      fn_rows(a + r0 * lda, lda, panel, width, depth, c + r0 * ldc + c0, ldc, alpha, accumulate);
    if (r0 < rows)
      tile<E>(static_cast<int>(rows - r0), static_cast<int>(width / kLanes))(a + r0 * lda, lda, panel, width, depth,
                                                                           c + r0 * ldc + c0, ldc, alpha, accumulate);
  }
}

// x[i][l] → x[l][i]: a 16×16 transpose of 32-bit units in four rounds of shuffles (units,
// pairs, then 128-bit quarters twice).
SEGKIT_KERNEL_INLINE void transpose16(__m512i (&x)[16]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
    a[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
  }
  // b[4m + c], quarter q: column 4q + c of rows 4m..4m + 3.
  for (int m = 0; m < 16; m += 4) {
    b[m] = _mm512_unpacklo_epi64(a[m], a[m + 2]);
    b[m + 1] = _mm512_unpackhi_epi64(a[m], a[m + 2]);
    b[m + 2] = _mm512_unpacklo_epi64(a[m + 1], a[m + 3]);
    b[m + 3] = _mm512_unpackhi_epi64(a[m + 1], a[m + 3]);
  }
  // Column 4q + c takes quarter q of b[c], b[4 + c], b[8 + c], b[12 + c].
  for (int c = 0; c < 4; ++c) {
    const __m512i e0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44), e1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xee);
    const __m512i e2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44), e3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xee);
    x[c] = _mm512_shuffle_i32x4(e0, e2, 0x88);
    x[4 + c] = _mm512_shuffle_i32x4(e0, e2, 0xdd);
    x[8 + c] = _mm512_shuffle_i32x4(e1, e3, 0x88);
    x[12 + c] = _mm512_shuffle_i32x4(e1, e3, 0xdd);
  }
}

// Packs n rows of `units` units as the B of dot: panels of 64 columns, one column per row,
// depth × width units; columns n..padded and units past a row's zero. Sixteen rows by sixteen
// units at a time, transposed in registers.
SEGKIT_KERNEL_TARGET void pack_rows(const uint32_t* const* rows, int64_t n, int64_t units, int64_t depth,
                                    int64_t padded, uint32_t* packed) {
  for (int64_t c0 = 0; c0 < padded; c0 += kPanel) {
    const int64_t width = std::min(kPanel, padded - c0);
    uint32_t* panel = packed + c0 * depth;
    for (int64_t j0 = 0; j0 < width; j0 += kLanes) {
      const int64_t valid = std::clamp<int64_t>(n - c0 - j0, 0, kLanes);
      const uint32_t* const* block = rows + c0 + j0;
      int64_t p = 0;
      for (; p + kLanes <= units; p += kLanes) {
        __m512i x[16];
        for (int i = 0; i < 16; ++i) x[i] = i < valid ? _mm512_loadu_si512(block[i] + p) : _mm512_setzero_si512();
        transpose16(x);
        for (int l = 0; l < 16; ++l) _mm512_storeu_si512(panel + (p + l) * width + j0, x[l]);
      }
      for (; p < depth; ++p)  // bfloat16 heads of an odd number of 16-unit vectors; zero depth
        for (int64_t i = 0; i < kLanes; ++i) panel[p * width + j0 + i] = i < valid && p < units ? block[i][p] : 0;
    }
  }
}

}  // namespace
}  // namespace segkit::kernels::fused
