#include "kernels/cpu/attention_fused_amx.h"

#if SEGKIT_AMX_KERNELS
#include <immintrin.h>

#include <algorithm>

namespace segkit::kernels::fused {

namespace {

#define SEGKIT_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

constexpr int64_t kTile = 16;   // rows of a tile, and float32 columns of a C tile
constexpr int64_t kPanel = 64;  // columns of a packed panel

// Palette 1: eight tiles of 16 rows × 64 bytes. Tiles 0–3 hold a 2×2 block of C, 4–5 two row
// tiles of A, 6–7 two column tiles of B.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// One block of NR×NC tiles of C (NR, NC ∈ {1, 2}) over the whole depth.
template <int NR, int NC>
SEGKIT_AMX_TARGET void block(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t depth, float* c,
                             int64_t ldc, bool accumulate) {
  const int64_t sa = lda * 4, sb = ldb * 4, sc = ldc * 4;  // strides in bytes
  if (accumulate) {
    _tile_loadd(0, c, sc);
    if (NC > 1) _tile_loadd(1, c + kTile, sc);
    if (NR > 1) _tile_loadd(2, c + kTile * ldc, sc);
    if (NR > 1 && NC > 1) _tile_loadd(3, c + kTile * ldc + kTile, sc);
  } else {
    _tile_zero(0);
    if (NC > 1) _tile_zero(1);
    if (NR > 1) _tile_zero(2);
    if (NR > 1 && NC > 1) _tile_zero(3);
  }
  for (int64_t p = 0; p < depth; p += kTile) {
    _tile_loadd(4, a + p, sa);
    _tile_loadd(6, b + p * ldb, sb);
    if (NC > 1) _tile_loadd(7, b + p * ldb + kTile, sb);
    _tile_dpbf16ps(0, 4, 6);
    if (NC > 1) _tile_dpbf16ps(1, 4, 7);
    if (NR > 1) {
      _tile_loadd(5, a + kTile * lda + p, sa);
      _tile_dpbf16ps(2, 5, 6);
      if (NC > 1) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c, sc);
  if (NC > 1) _tile_stored(1, c + kTile, sc);
  if (NR > 1) _tile_stored(2, c + kTile * ldc, sc);
  if (NR > 1 && NC > 1) _tile_stored(3, c + kTile * ldc + kTile, sc);
}

}  // namespace

SEGKIT_AMX_TARGET void amx_product(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t panel_stride,
                                   int64_t depth, float* c, int64_t ldc, int64_t rows, int64_t cols, bool accumulate) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = kTile;
  }
  _tile_loadconfig(&config);
  for (int64_t c0 = 0; c0 < cols; c0 += kPanel) {
    const int64_t width = std::min(kPanel, cols - c0);
    const uint32_t* panel = b + c0 / kPanel * panel_stride;
    for (int64_t j = 0; j < width; j += 2 * kTile) {
      const bool two_columns = j + kTile < width;
      for (int64_t i = 0; i < rows; i += 2 * kTile) {
        const bool two_rows = i + kTile < rows;
        const uint32_t* ai = a + i * lda;
        float* ci = c + i * ldc + c0 + j;
        if (two_rows && two_columns) block<2, 2>(ai, lda, panel + j, width, depth, ci, ldc, accumulate);
        else if (two_rows) block<2, 1>(ai, lda, panel + j, width, depth, ci, ldc, accumulate);
        else if (two_columns) block<1, 2>(ai, lda, panel + j, width, depth, ci, ldc, accumulate);
        else block<1, 1>(ai, lda, panel + j, width, depth, ci, ldc, accumulate);
      }
    }
  }
  _tile_release();
}

}  // namespace segkit::kernels::fused

#endif
