#pragma once
// SAM's fused attention (attention_fused.h): the flash-attention driver with upstream's
// decomposed relative-position terms as its score-terms hook, RelativePositionTerms, and
// attend_sam, which runs it (or the driver alone, without tables). Only attention_fused_bf16.cpp
// and attention_fused_fp32.cpp include it, after defining SEGKIT_KERNEL_TARGET.
#include <vector>

#include "kernels/cpu/flash_attention_driver.h"

namespace segkit::kernels::fused {
namespace {

// Packs a get_rel_pos table of n×n rows: for each query row (column) a, its n key rows packed
// as keys are.
inline void pack_table(const uint32_t* table, int64_t n, int64_t units, int64_t padded, uint32_t* packed) {
  std::vector<const uint32_t*> rows(static_cast<size_t>(n));
  for (int64_t a = 0; a < n; ++a, packed += units * padded) {
    for (int64_t j = 0; j < n; ++j) rows[size_t(j)] = table + (a * n + j) * units;
    pack_rows(rows.data(), n, units, units, padded, packed);
  }
}

// A query block's terms: row r's rel_h at rel_h + r·ldh (one per key row of the window), its
// rel_w at rel_w + r·ldw (one per key column).
struct TermRows {
  const float *rel_h, *rel_w;
  int64_t ldh, ldw;
  TermRows from_row(int64_t r0) const { return {rel_h + r0 * ldh, rel_w + r0 * ldw, ldh, ldw}; }
};

// Tile layouts of the terms (flash_attention_driver.h), where probability tiles find them:
// Row panels: the panel is 64 keys of one key row (global attention over a grid a multiple of 64
// wide): rel_h is one number for the row, rel_w one per key.
struct RowPanels {
  static constexpr bool kWholePanels = true;
  TermRows rows;  // at() places them at the tile's rows and the panel's key row and column
  int64_t kw;
  RowPanels at(int64_t r0, int64_t key) const {
    const TermRows placed = rows.from_row(r0);
    return {{placed.rel_h + key / kw, placed.rel_w + key % kw, rows.ldh, rows.ldw}, kw};
  }
  SEGKIT_KERNEL_INLINE float row_term(int r) const { return rows.rel_h[r * rows.ldh]; }
  SEGKIT_KERNEL_INLINE __m512 key_terms(int r, int64_t lane) const {
    return _mm512_loadu_ps(rows.rel_w + r * rows.ldw + lane);
  }
};

// Small windows: at most 16×16 (SAM's 14×14), a row's rel_h and rel_w fit in one vector each
// (16 floats from rel_h + r·ldh, rel_w + r·ldw), and each key's pair (rel_h[y_j] + rel_w[x_j])
// is gathered from them by its row and column.
struct SmallWindow {
  static constexpr bool kWholePanels = false;
  TermRows rows;
  const int32_t *key_y, *key_x;  // each key's row and column in the window, from the panel's
  SmallWindow at(int64_t r0, int64_t key) const { return {rows.from_row(r0), key_y + key, key_x + key}; }
  SEGKIT_KERNEL_INLINE float row_term(int) const { return 0.0f; }
  SEGKIT_KERNEL_INLINE __m512 key_terms(int r, int64_t lane) const {
    return _mm512_add_ps(
        _mm512_permutexvar_ps(_mm512_loadu_si512(key_y + lane), _mm512_loadu_ps(rows.rel_h + r * rows.ldh)),
        _mm512_permutexvar_ps(_mm512_loadu_si512(key_x + lane), _mm512_loadu_ps(rows.rel_w + r * rows.ldw)));
  }
};

// Upstream's decomposed relative positions as score terms: q_i·Rh[y_i, y_j] + q_i·Rw[x_i, x_j]
// for query i and key j at (y, x) in the window, from the problem's get_rel_pos tables.
template <class E>
class RelativePositionTerms {
 public:
  using Rows = TermRows;
  static constexpr bool kTiles = true;

  // Packs the tables: for each query row (column), its kh (kw) key rows (columns) packed like
  // keys.
  explicit RelativePositionTerms(const Plan& pl)
      : kh_(pl.kh), kw_(pl.kw), N_(pl.N), units_(pl.units), kh_padded_(whole_vectors(pl.kh)),
        kw_padded_(whole_vectors(pl.kw)), tables_(size_t((kh_ * kh_padded_ + kw_ * kw_padded_) * units_)) {
    pack_table(pl.pr.rel_pos_h, kh_, units_, kh_padded_, tables_.data());
    pack_table(pl.pr.rel_pos_w, kw_, units_, kw_padded_, tables_.data() + kh_ * kh_padded_ * units_);
    if (small_window())
      for (int64_t j = 0; j < pl.blocks.padded; ++j) {
        key_y_.push_back(static_cast<int32_t>(j / kw_));
        key_x_.push_back(static_cast<int32_t>(j % kw_));
      }
  }

  // rel_h[n][kh_padded], then rel_w[n][kw_padded], in float32 and base 2.
  int64_t per_group() const { return N_ * (kh_padded_ + kw_padded_); }

  // From all the group's queries side by side in q: rel_h[n, y] = q_n · Rh[y_n, y], one product
  // for the kw queries of each row y_n, and rel_w[n, x] = q_n · Rw[x_n, x], one for the kh
  // queries of each column x_n (kw rows apart). Whole rows and columns make products of full
  // register tiles, and each table row is read once per group. Never rounded.
  void group_terms(const Plan& pl, const uint32_t* q, float* terms) const {
    const int64_t depth = pl.depth;
    float* rel_h = terms;
    float* rel_w = terms + N_ * kh_padded_;
    for (int64_t y = 0; y < kh_; ++y)
      dot<E>(q + y * kw_ * depth, depth, tables_.data() + y * units_ * kh_padded_, kPanel * units_, units_,
             rel_h + y * kw_ * kh_padded_, kh_padded_, kw_, kh_padded_, kernels::avx512::kLog2e, false);
    for (int64_t x = 0; x < kw_; ++x)
      dot<E>(q + x * depth, kw_ * depth, table_w() + x * units_ * kw_padded_, kPanel * units_, units_,
             rel_w + x * kw_padded_, kw_ * kw_padded_, kh_, kw_padded_, kernels::avx512::kLog2e, false);
  }

  Rows rows(const float* terms, int64_t i0) const {
    return {terms + i0 * kh_padded_, terms + N_ * kh_padded_ + i0 * kw_padded_, kh_padded_, kw_padded_};
  }

  // Key rows of the block, each rel_h[y] + rel_w[x] over its kw keys.
  SEGKIT_KERNEL_INLINE __m512 scores(const Rows& block, int64_t r, int64_t first_key, int64_t keys, __m512 scale,
                                     float* row) const {
    const float* rh = block.rel_h + r * block.ldh;
    const float* rw = block.rel_w + r * block.ldw;
    const int64_t y0 = first_key / kw_;
    __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t y = 0; y < keys / kw_; ++y) {
      const __m512 bias = _mm512_set1_ps(rh[y0 + y]);
      float* seg = row + y * kw_;
      for (int64_t x = 0; x < kw_; x += kLanes) {
        const __mmask16 m = first_lanes(kw_ - x);
        const __m512 val =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, seg + x), scale, _mm512_add_ps(bias, _mm512_loadu_ps(rw + x)));
        _mm512_mask_storeu_ps(seg + x, m, val);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, val);
      }
    }
    return vmax;
  }

  // Probability tiles where a panel's terms are at hand: key rows of whole panels, or windows
  // small enough for one vector of each term.
  bool tiles() const { return kw_ % kPanel == 0 || small_window(); }
  template <class Fn>
  void with_tiles(const Rows& rows, Fn&& fn) const {
    if (small_window()) fn(SmallWindow{rows, key_y_.data(), key_x_.data()});
    else fn(RowPanels{rows, kw_});
  }

 private:
  bool small_window() const { return kh_ <= kLanes && kw_ <= kLanes; }
  const uint32_t* table_w() const { return tables_.data() + kh_ * kh_padded_ * units_; }

  int64_t kh_, kw_, N_, units_, kh_padded_, kw_padded_;
  std::vector<uint32_t> tables_;        // packed Rh, then Rw
  std::vector<int32_t> key_y_, key_x_;  // small windows: each key's row and column
};

// SAM's attention: with relative positions where the problem has their tables.
template <class E>
void attend_sam(const Problem& pr) {
  if (pr.rel_pos_h) attend<E, RelativePositionTerms<E>>(pr);
  else attend<E, NoScoreTerms>(pr);
}

}  // namespace
}  // namespace segkit::kernels::fused
