#pragma once
// The fused attention kernel (attention_fused.h), written once for both element types. Only
// attention_fused_bf16.cpp and attention_fused_fp32.cpp include it. Each defines first
// SEGKIT_KERNEL_TARGET, the instruction sets its copy may use (only these functions use
// AVX-512: the rest of the build stays portable, and a kernel runs only after the CPU check),
// and then instantiates attend<E> with an element trait E:
//   Element             the stored type of q, k, v, the probabilities and the output;
//   kPerUnit            elements per 32-bit unit (1 for float32, 2 for bfloat16);
//   kCoarseExp          whether the probabilities' exponential may be exact to only ~4e-5;
//   broadcast(unit)     a unit in every lane;
//   madd(acc, a, b)     acc + the products of 16 lanes of units, summed within each unit;
//   store(dst, v)       16 floats stored as 16 Elements;
//   load(src)           16 Elements loaded as 16 floats;
//   kAmx                whether the two products run on AMX tiles (amx_product; bfloat16 only):
//                       then query blocks and key blocks are whole tiles (16 rows, 32 keys),
//                       and the softmax reads the q·k products the tile unit stored.
// Sizes along a product's depth are in units: a bfloat16 unit is a pair, which vdpbf16ps
// multiplies and sums in one step.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/cpu/attention_fused_amx.h"
#include "kernels/cpu/attention_fused_problem.h"
#include "kernels/cpu/avx512_exp.h"
#include "kernels/cpu/avx512_mask.h"

// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report from every caller.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// Helpers taking or returning vectors are inlined into their callers (same target), never
// called across targets.
#define SEGKIT_KERNEL_INLINE SEGKIT_KERNEL_TARGET inline __attribute__((always_inline))

namespace segkit::kernels::fused {
namespace {

using kernels::avx512::first_lanes;

constexpr int64_t kLanes = 16;
constexpr int64_t kQueriesPerBlock = 64;  // with 256 keys: scores 64 kB, probabilities 32–64 kB
constexpr int64_t kKeysPerBlock = 256;    // about; whole key rows
constexpr int kTileRows = 6;              // 6 rows × 4 vectors: 24 accumulators of 32 registers
constexpr int kTileVectors = 4;
constexpr int64_t kPanel = kLanes * kTileVectors;  // columns of a packed panel

inline int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }
inline int64_t whole_vectors(int64_t n) { return round_up(n, kLanes); }

// Keys are taken in blocks of whole key rows; each block is packed for the products:
// k as [units of d][padded] (one column per key) and v as [units of padded keys][d] (one
// column per head dimension), padding zero.
struct KeyBlocks {
  int64_t rows;    // key rows (of kw keys) per block
  int64_t keys;    // rows·kw
  int64_t padded;  // keys rounded up to a multiple of `align` (whole vectors; AMX: 32)
  int64_t count;
  int64_t keys_in(int64_t block, int64_t N) const { return std::min(keys, N - block * keys); }
};

inline KeyBlocks key_blocks(int64_t kh, int64_t kw, int64_t align) {
  KeyBlocks kb{};
  const int64_t N = kh * kw;
  kb.rows = N <= kKeysPerBlock * 5 / 4 ? kh : std::clamp<int64_t>((kKeysPerBlock + kw / 2) / kw, 1, kh);
  kb.keys = kb.rows * kw;
  kb.padded = round_up(kb.keys, align);
  kb.count = (kh + kb.rows - 1) / kb.rows;
  return kb;
}

// The problem with its derived sizes and packed relative-position tables: for each query row
// (column), its kh (kw) key rows (columns) packed like keys.
struct Plan {
  const Problem& pr;
  int64_t N, kh, kw, units;  // kh×kw: the window (the whole grid for global attention)
  KeyBlocks blocks;
  int64_t kh_padded = 0, kw_padded = 0;
  const uint32_t* rel_h = nullptr;
  const uint32_t* rel_w = nullptr;
  // Units of the queries and packed keys along q·k's depth: `units`, rounded up to whole AMX
  // tiles (16) with AMX (ViT-H's heads of 80 bfloat16 are 40 units); the extra units are zero.
  int64_t depth = 0;
  int64_t packed_per_group = 0;  // units of packed k (and again, of which v uses less, v) per head
  // Floats of a group's relative-position terms (Group::terms).
  int64_t terms_per_group = 0;
  // Windows of at most 16×16 (probability tiles with Terms::kSmallWindow): each key's row and
  // column in the window, for the block's padded keys.
  std::vector<int32_t> key_y{}, key_x{};
  float score_scale = 0;         // the problem's scale times log2 e: scores in base 2
  int64_t key_align = kLanes;    // keys of a block are padded to a multiple of this
  bool probability_tiles = false;  // see probabilities_in_tiles
};

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

// 2^x to about 1e-4 (relative), for probabilities that are rounded to bfloat16 (8 significant
// bits) anyway: core::avx512::exp2 with a degree-3 polynomial (fitted as that one is).
SEGKIT_KERNEL_INLINE __m512 exp2_coarse(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(5.500892922282219e-2f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4221095442771912e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.932829022407532e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

template <class E>
SEGKIT_KERNEL_INLINE __m512 exp2(__m512 x) {
  return E::kCoarseExp ? exp2_coarse(x) : kernels::avx512::exp2(x);
}

// Scores are kept in base 2 (natural-base scores times log2 e, folded into the scale and the
// relative-position products), so that the probabilities are 2^(s − max).
//
// A row's probabilities are taken against its running maximum m until a score passes
// m + kSlack: 2^kSlack bounds them, far inside float's range. Only then does m rise, and what
// the row has summed and accumulated so far is scaled down to the new maximum.
constexpr float kSlack = 12.0f;

// What a probability tile's rows need besides the products: where their terms, probabilities
// and running state are.
template <class E>
struct TileRows {
  typename E::Element* p;  // probabilities of the key block, row r at p + r·ldp
  int64_t ldp;
  int64_t c0;    // the panel's first key in the block
  int64_t keys;  // keys in the block: lanes past them are padding
  float scale;   // of q·k, in base 2
  const float *rel_h, *rel_w;  // row r at rel_h + r·ldh and rel_w + r·ldw (see probability_tile)
  int64_t ldh, ldw;
  const int32_t *key_y, *key_x;  // small windows: each key's row and column in the window
  float *max, *sum, *o;          // row r: max[r], sum[r·16 + lane], o[r·d + c]
  int64_t d;
  const float* scores;  // with AMX: the block's products q·k, stored; row r at scores + r·lds
  int64_t lds;
};

// How a probability tile finds the relative-position terms of its keys:
//   kRowPanels: the panel is 64 keys of one key row (global attention over a grid a multiple
//     of 64 wide): rel_h[r·ldh] is one number for the row, rel_w[r·ldw + j] one per key;
//   kSmallWindow: the window is at most 16×16 (SAM's 14×14): a row's rel_h and rel_w fit in
//     one vector each (16 floats from rel_h + r·ldh, rel_w + r·ldw), and each key's pair
//     (rel_h[y_j] + rel_w[x_j]) is gathered from them by its row and column.
enum class Terms { kRowPanels, kSmallWindow };

// Probabilities of MR queries against one panel of 16·NV keys, straight from the products (with
// AMX, from the products the tile unit stored).
// Score s = scale·(q_r·k_j) + rel_h[r][y_j] + rel_w[r][x_j] (upstream's terms, here in base
// 2: `scale` includes log2 e); p = 2^(s − max[r]) into p[r][c0 + j], 0 for padding keys. Per
// row: max[r], the running maximum (raised as above: then the row's sum lanes, its
// probabilities p[r][0, c0) of this key block and its output row o[r] are rescaled), and
// sum[r][16], the lanewise sum of its probabilities.
template <class E, int MR, int NV, Terms T>
SEGKIT_KERNEL_TARGET void probability_tile(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t depth,
                                           const TileRows<E>& t) {
  __m512 acc[MR][NV];
  if (E::kAmx) {  // the tile unit has stored them
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_loadu_ps(t.scores + r * t.lds + t.c0 + kLanes * v);
  } else {
    tile_products<E>(a, lda, b, kLanes * NV, depth, acc);
  }
  const float infinity = std::numeric_limits<float>::infinity();
  const __m512 scale = _mm512_set1_ps(t.scale);
  __mmask16 valid[NV];
  for (int v = 0; v < NV; ++v) valid[v] = first_lanes(t.keys - t.c0 - kLanes * v);
  for (int r = 0; r < MR; ++r) {
    // With row panels, rel_h is the same across the panel: it joins the maximum in the shift.
    const float h = T == Terms::kRowPanels ? t.rel_h[r * t.ldh] : 0.0f;
    __m512 top = _mm512_set1_ps(-infinity);
    for (int v = 0; v < NV; ++v) {
      __m512 terms;
      if (T == Terms::kRowPanels) {
        terms = _mm512_loadu_ps(t.rel_w + r * t.ldw + kLanes * v);
      } else {
        const int64_t j = t.c0 + kLanes * v;
        terms = _mm512_add_ps(
            _mm512_permutexvar_ps(_mm512_loadu_si512(t.key_y + j), _mm512_loadu_ps(t.rel_h + r * t.ldh)),
            _mm512_permutexvar_ps(_mm512_loadu_si512(t.key_x + j), _mm512_loadu_ps(t.rel_w + r * t.ldw)));
      }
      acc[r][v] = _mm512_fmadd_ps(acc[r][v], scale, terms);
      // Row panels are whole key rows, all keys; a small window's last panel has padding keys.
      if (T == Terms::kSmallWindow) acc[r][v] = _mm512_mask_mov_ps(_mm512_set1_ps(-infinity), valid[v], acc[r][v]);
      top = _mm512_max_ps(top, acc[r][v]);
    }
    typename E::Element* row = t.p + r * t.ldp;
    float& max = t.max[r];
    float* sum = t.sum + r * kLanes;
    if (_mm512_cmp_ps_mask(top, _mm512_set1_ps(max + kSlack - h), _CMP_GT_OQ)) {
      const float raised = _mm512_reduce_max_ps(top) + h;
      const __m512 alpha = _mm512_set1_ps(std::exp2(max - raised));  // 0 on the row's first panel
      _mm512_storeu_ps(sum, _mm512_mul_ps(_mm512_loadu_ps(sum), alpha));
      float* o = t.o + r * t.d;
      for (int64_t c = 0; c < t.d; c += kLanes) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), alpha));
      for (int64_t j = 0; j < t.c0; j += kLanes) E::store(row + j, _mm512_mul_ps(E::load(row + j), alpha));
      max = raised;
    }
    const __m512 shift = _mm512_set1_ps(h - max);
    __m512 total = _mm512_loadu_ps(sum);
    for (int v = 0; v < NV; ++v) {
      __m512 e = exp2<E>(_mm512_add_ps(acc[r][v], shift));
      if (T == Terms::kSmallWindow) e = _mm512_maskz_mov_ps(valid[v], e);
      total = _mm512_add_ps(total, e);
      E::store(row + t.c0 + kLanes * v, e);
    }
    _mm512_storeu_ps(sum, total);
  }
}

using TileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, float*, int64_t, float, bool);
template <class E>
using ProbabilityTileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, const TileRows<E>&);

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

template <class E, int MR, Terms T>
ProbabilityTileFn<E> probability_tile_for(int nv) {
  if (T == Terms::kRowPanels) return probability_tile<E, MR, 4, T>;  // panels are whole there
  return nv == 1   ? probability_tile<E, MR, 1, T>
         : nv == 2 ? probability_tile<E, MR, 2, T>
         : nv == 3 ? probability_tile<E, MR, 3, T>
                   : probability_tile<E, MR, 4, T>;
}

template <class E, Terms T>
ProbabilityTileFn<E> probability_tile_for(int mr, int nv) {
  switch (mr) {
    case 1: return probability_tile_for<E, 1, T>(nv);
    case 2: return probability_tile_for<E, 2, T>(nv);
    case 3: return probability_tile_for<E, 3, T>(nv);
    case 4: return probability_tile_for<E, 4, T>(nv);
    case 5: return probability_tile_for<E, 5, T>(nv);
    default: return probability_tile_for<E, 6, T>(nv);
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

// Per query block: scores S (float32) for one key block (with probability tiles, only the
// products AMX stored), the running output O (float32), each row's running maximum and sum;
// the probabilities P in the element type (held as units). With probability tiles, each row's
// sum is kept in 16 lanes (sum_lanes) until the end.
struct Scratch {
  std::vector<float> S, O, max, sum, sum_lanes;
  std::vector<uint32_t> P;
  const float* rel_h = nullptr;  // the block's rows of the group's terms
  const float* rel_w = nullptr;
};

// One group, ready to attend: its keys and values packed block by block (pack_group), the
// relative-position terms of all its queries (float32, base 2: rel_h[n][kh_padded], then
// rel_w[n][kw_padded]; null without relative positions), and its queries side by side
// (gather_queries), zero rows after them up to whole query blocks.
struct Group {
  int64_t g;
  const uint32_t *k, *v;
  const float* terms;
  const uint32_t* q;
};

inline bool small_window(const Plan& pl) { return pl.kh <= kLanes && pl.kw <= kLanes; }

// Whether probability tiles go from the products to the probabilities in registers, without
// a pass over the scores: where the relative-position terms of a panel's keys are at hand
// (Terms).
inline bool probabilities_in_tiles(const Plan& pl) { return pl.rel_h && (pl.kw % kPanel == 0 || small_window(pl)); }

// P for one key block (starting at key row y0) by probability tiles.
template <class E>
void probabilities(const Plan& pl, Scratch& s, const uint32_t* q, const uint32_t* k, int64_t rows, int64_t y0,
                   int64_t keys) {
  const int64_t ld = pl.blocks.padded, depth = pl.depth;
  const bool window = small_window(pl);
  TileRows<E> t{};
  t.ldp = ld;
  t.keys = keys;
  t.scale = pl.score_scale;
  t.ldh = pl.kh_padded;
  t.ldw = pl.kw_padded;
  t.key_y = pl.key_y.data();
  t.key_x = pl.key_x.data();
  t.d = pl.pr.d;
  t.lds = ld;
  auto* P = reinterpret_cast<typename E::Element*>(s.P.data());
  for (int64_t c0 = 0; c0 < keys; c0 += kPanel) {
    const int nv = static_cast<int>(std::min(kPanel, ld - c0) / kLanes);
    auto tile_for = [&](int64_t mr) {
      return window ? probability_tile_for<E, Terms::kSmallWindow>(static_cast<int>(mr), nv)
                    : probability_tile_for<E, Terms::kRowPanels>(static_cast<int>(mr), nv);
    };
    const ProbabilityTileFn<E> fn_rows = tile_for(kTileRows);
    // Row panels: the panel's key row and first column.
    const int64_t y = window ? 0 : y0 + c0 / pl.kw, x0 = window ? 0 : c0 % pl.kw;
    t.c0 = c0;
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      t.p = P + r0 * ld;
      t.rel_h = s.rel_h + r0 * pl.kh_padded + y;
      t.rel_w = s.rel_w + r0 * pl.kw_padded + x0;
      t.max = s.max.data() + r0;
      t.sum = s.sum_lanes.data() + r0 * kLanes;
      t.o = s.O.data() + r0 * t.d;
      t.scores = s.S.data() + r0 * ld;
      (r0 + kTileRows <= rows ? fn_rows : tile_for(rows - r0))(q + r0 * depth, depth, k + c0 * depth, depth, t);
    }
  }
}

// Scales rows' products q·k for one key block (starting at key row y0) to scores and adds the
// relative-position terms, updates the running maximum and sum, writes the block's
// probabilities and rescales O.
template <class E>
SEGKIT_KERNEL_TARGET void block_softmax(const Plan& pl, Scratch& s, int64_t rows, int64_t y0, int64_t keys) {
  const int64_t ld = pl.blocks.padded, kw = pl.kw;
  const int64_t key_rows = keys / kw;
  const float infinity = std::numeric_limits<float>::infinity();
  const __m512 scale = _mm512_set1_ps(pl.score_scale);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s.S.data() + r * ld;
    __m512 vmax = _mm512_set1_ps(-infinity);
    if (pl.rel_h) {
      const float* rh = s.rel_h + r * pl.kh_padded;
      const float* rw = s.rel_w + r * pl.kw_padded;
      for (int64_t y = 0; y < key_rows; ++y) {
        const __m512 bias = _mm512_set1_ps(rh[y0 + y]);
        float* seg = row + y * kw;
        for (int64_t x = 0; x < kw; x += kLanes) {
          const __mmask16 m = first_lanes(kw - x);
          const __m512 val =
              _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, seg + x), scale, _mm512_add_ps(bias, _mm512_loadu_ps(rw + x)));
          _mm512_mask_storeu_ps(seg + x, m, val);
          vmax = _mm512_mask_max_ps(vmax, m, vmax, val);
        }
      }
    } else {
      for (int64_t j = 0; j < keys; j += kLanes) {
        const __mmask16 m = first_lanes(keys - j);
        const __m512 val = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), scale);
        _mm512_mask_storeu_ps(row + j, m, val);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, val);
      }
    }
    const float old_max = s.max[r], new_max = std::max(old_max, _mm512_reduce_max_ps(vmax));
    const float alpha = new_max == old_max ? 1.0f : std::exp2(old_max - new_max);  // 0 on the first block
    const __m512 vm = _mm512_set1_ps(new_max);
    __m512 vsum = _mm512_setzero_ps();
    auto* p = reinterpret_cast<typename E::Element*>(s.P.data() + r * ld / E::kPerUnit);
    for (int64_t j = 0; j < ld; j += kLanes) {
      const __m512 x = _mm512_sub_ps(_mm512_loadu_ps(row + j), vm);
      const __m512 e = _mm512_maskz_mov_ps(first_lanes(keys - j), exp2<E>(x));
      vsum = _mm512_add_ps(vsum, e);
      E::store(p + j, e);
    }
    s.sum[r] = s.sum[r] * alpha + _mm512_reduce_add_ps(vsum);
    s.max[r] = new_max;
    if (alpha != 1.0f) {
      float* o = s.O.data() + r * pl.pr.d;
      const __m512 va = _mm512_set1_ps(alpha);
      for (int64_t c = 0; c < pl.pr.d; c += kLanes) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), va));
    }
  }
}

SEGKIT_KERNEL_TARGET inline float reduce_lanes(const float* lanes) {
  return _mm512_reduce_add_ps(_mm512_loadu_ps(lanes));
}

template <class E>
SEGKIT_KERNEL_TARGET void write_output(const Plan& pl, const Scratch& s, int64_t g, int64_t i0, int64_t rows) {
  const int64_t d = pl.pr.d;
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* dst = pl.pr.tokens.output(g, i0 + r);
    if (!dst) continue;  // a padding token
    auto* out = reinterpret_cast<typename E::Element*>(dst);
    const float* o = s.O.data() + r * d;
    const __m512 inverse = _mm512_set1_ps(1.0f / s.sum[r]);
    for (int64_t c = 0; c < d; c += kLanes) E::store(out + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), inverse));
  }
}

// Group g's N query rows side by side (pl.depth units apart, zero past their units), then zero
// rows up to `rows` in all.
inline void gather_queries(const Plan& pl, int64_t g, int64_t rows, uint32_t* q) {
  for (int64_t n = 0; n < pl.N; ++n) {
    uint32_t* row = q + n * pl.depth;
    std::memcpy(row, pl.pr.tokens.row(g, n, 0), pl.units * sizeof(uint32_t));
    std::fill(row + pl.units, row + pl.depth, 0u);
  }
  std::fill(q + pl.N * pl.depth, q + rows * pl.depth, 0u);
}

// AMX products work on whole tiles of 16 rows; the others on the rows there are.
template <class E>
int64_t product_rows(int64_t rows) {
  return E::kAmx ? round_up(rows, 16) : rows;
}

// One block of query rows [i0, i0 + rows) of a group against all its key blocks.
template <class E>
void attend_queries(const Plan& pl, const Group& group, Scratch& s, int64_t i0, int64_t rows) {
  const KeyBlocks& kb = pl.blocks;
  const int64_t d = pl.pr.d, units = pl.units, depth = pl.depth, ldp = kb.padded / E::kPerUnit;
  // Rows past `rows` (AMX tiles) hold zero queries, probabilities and output, never written out.
  const int64_t tile_rows = product_rows<E>(rows);
  std::fill(s.O.begin(), s.O.begin() + tile_rows * d, 0.0f);
  std::fill(s.P.begin() + rows * ldp, s.P.begin() + tile_rows * ldp, 0u);
  std::fill(s.max.begin(), s.max.begin() + rows, -std::numeric_limits<float>::infinity());
  std::fill(s.sum.begin(), s.sum.begin() + rows, 0.0f);
  const bool tiled = pl.probability_tiles;
  if (tiled) std::fill(s.sum_lanes.begin(), s.sum_lanes.begin() + rows * kLanes, 0.0f);
  const uint32_t* q = group.q + i0 * depth;
  if (group.terms) {
    s.rel_h = group.terms + i0 * pl.kh_padded;
    s.rel_w = group.terms + pl.N * pl.kh_padded + i0 * pl.kw_padded;
  }
  for (int64_t block = 0; block < kb.count; ++block) {
    const int64_t keys = kb.keys_in(block, pl.N);
    const int64_t padded = round_up(keys, pl.key_align);
    const uint32_t* k = group.k + block * depth * kb.padded;
    const uint32_t* v = group.v + block * units * kb.padded;
#if SEGKIT_AMX_KERNELS
    if (E::kAmx) amx_product(q, depth, k, kPanel * depth, depth, s.S.data(), kb.padded, tile_rows, padded, false);
#endif
    if (tiled) {
      probabilities<E>(pl, s, q, k, rows, block * kb.rows, keys);
    } else {
      if (!E::kAmx) dot<E>(q, depth, k, kPanel * depth, depth, s.S.data(), kb.padded, rows, padded, 1.0f, false);
      block_softmax<E>(pl, s, rows, block * kb.rows, keys);
    }
#if SEGKIT_AMX_KERNELS
    if (E::kAmx)
      amx_product(s.P.data(), ldp, v, kPanel * ldp, padded / E::kPerUnit, s.O.data(), d, tile_rows, d, true);
    else
#endif
      dot<E>(s.P.data(), ldp, v, kPanel * ldp, padded / E::kPerUnit, s.O.data(), d, rows, d, 1.0f, true);
  }
  if (tiled)
    for (int64_t r = 0; r < rows; ++r) s.sum[r] = reduce_lanes(s.sum_lanes.data() + r * kLanes);
  write_output<E>(pl, s, group.g, i0, rows);
}

// Group g's relative-position terms (Group::terms), from all its queries side by side in q:
// rel_h[n, y] = q_n · Rh[y_n, y], one product for the kw queries of each row y_n, and
// rel_w[n, x] = q_n · Rw[x_n, x], one for the kh queries of each column x_n (kw rows apart).
// Whole rows and columns make products of full register tiles, and each table row is read once
// per group. In float32, never rounded, and in base 2 as the scores.
template <class E>
void relative_terms(const Plan& pl, const uint32_t* q, float* terms) {
  const int64_t units = pl.units, depth = pl.depth, kh = pl.kh, kw = pl.kw;
  float* rel_h = terms;
  float* rel_w = terms + pl.N * pl.kh_padded;
  for (int64_t y = 0; y < kh; ++y)
    dot<E>(q + y * kw * depth, depth, pl.rel_h + y * units * pl.kh_padded, kPanel * units, units,
           rel_h + y * kw * pl.kh_padded, pl.kh_padded, kw, pl.kh_padded, kernels::avx512::kLog2e, false);
  for (int64_t x = 0; x < kw; ++x)
    dot<E>(q + x * depth, kw * depth, pl.rel_w + x * units * pl.kw_padded, kPanel * units, units,
           rel_w + x * pl.kw_padded, kw * pl.kw_padded, kh, pl.kw_padded, kernels::avx512::kLog2e, false);
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

// Packs group g's keys and values block by block: keys as pack_rows does; values with the
// keys along the depth (kPerUnit keys to a unit, zero keys past the end) × head dimensions,
// in panels of 64 head dimensions.
template <class E>
SEGKIT_KERNEL_TARGET void pack_group(const Plan& pl, int64_t g, uint32_t* packed_k, uint32_t* packed_v) {
  constexpr int64_t per = E::kPerUnit;
  const KeyBlocks& kb = pl.blocks;
  const int64_t d = pl.pr.d, units = pl.units, depth = pl.depth;
  std::vector<const uint32_t*> rows(static_cast<size_t>(kb.padded));
  for (int64_t block = 0; block < kb.count; ++block) {
    const int64_t j0 = block * kb.keys, keys = kb.keys_in(block, pl.N);
    for (int64_t j = 0; j < keys; ++j) rows[size_t(j)] = pl.pr.tokens.row(g, j0 + j, 1);
    pack_rows(rows.data(), keys, units, depth, kb.padded, packed_k + block * depth * kb.padded);
    for (int64_t j = 0; j < keys; ++j) rows[size_t(j)] = pl.pr.tokens.row(g, j0 + j, 2);
    uint32_t* vp = packed_v + block * units * kb.padded;
    for (int64_t c0 = 0; c0 < d; c0 += kPanel) {
      const int64_t width = std::min(kPanel, d - c0);  // elements; a multiple of 16
      uint32_t* panel = vp + c0 * kb.padded / per;
      for (int64_t j = 0; j < kb.padded; j += per) {
        uint32_t* dst = panel + j / per * width;
        if (per == 1) {
          if (j < keys) std::memcpy(dst, rows[size_t(j)] + c0, width * sizeof(uint32_t));
          else std::memset(dst, 0, width * sizeof(uint32_t));
          continue;
        }
        // A unit holds element c of key j (low half) and of key j + 1 (high half).
        const auto* lo = j < keys ? reinterpret_cast<const uint16_t*>(rows[size_t(j)]) + c0 : nullptr;
        const auto* hi = j + 1 < keys ? reinterpret_cast<const uint16_t*>(rows[size_t(j + 1)]) + c0 : nullptr;
        for (int64_t c = 0; c < width; c += kLanes) {
          const __m512i l = lo ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + c)))
                               : _mm512_setzero_si512();
          const __m512i h = hi ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + c)))
                               : _mm512_setzero_si512();
          _mm512_storeu_si512(dst + c, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
        }
      }
    }
  }
}

// Packs a get_rel_pos table of n×n rows: for each query row (column) a, its n key rows packed
// as keys are.
inline void pack_table(const uint32_t* table, int64_t n, int64_t units, int64_t padded, uint32_t* packed) {
  std::vector<const uint32_t*> rows(static_cast<size_t>(n));
  for (int64_t a = 0; a < n; ++a, packed += units * padded) {
    for (int64_t j = 0; j < n; ++j) rows[size_t(j)] = table + (a * n + j) * units;
    pack_rows(rows.data(), n, units, units, padded, packed);
  }
}

template <class E>
void attend(const Problem& pr) {
  const Tokens& t = pr.tokens;
  // AMX's products take 16 units (32 keys) of depth at a time.
  const int64_t key_align = E::kAmx ? 2 * kLanes : kLanes;
  Plan pl{pr, t.kh * t.kw, t.kh, t.kw, t.units, key_blocks(t.kh, t.kw, key_align)};
  pl.key_align = key_align;
  pl.depth = E::kAmx ? round_up(pl.units, 16) : pl.units;
  pl.score_scale = pr.scale * kernels::avx512::kLog2e;
  std::vector<uint32_t> tables;
  if (pr.rel_pos_h) {
    pl.kh_padded = whole_vectors(pl.kh);
    pl.kw_padded = whole_vectors(pl.kw);
    tables.resize(size_t((pl.kh * pl.kh_padded + pl.kw * pl.kw_padded) * pl.units));
    pack_table(pr.rel_pos_h, pl.kh, pl.units, pl.kh_padded, tables.data());
    pack_table(pr.rel_pos_w, pl.kw, pl.units, pl.kw_padded, tables.data() + pl.kh * pl.kh_padded * pl.units);
    pl.rel_h = tables.data();
    pl.rel_w = tables.data() + pl.kh * pl.kh_padded * pl.units;
  }
  pl.packed_per_group = pl.blocks.count * pl.blocks.padded * pl.depth;
  pl.terms_per_group = pl.rel_h ? pl.N * (pl.kh_padded + pl.kw_padded) : 0;
  pl.probability_tiles = probabilities_in_tiles(pl);
  if (small_window(pl))
    for (int64_t j = 0; j < pl.blocks.padded; ++j) {
      pl.key_y.push_back(static_cast<int32_t>(j / pl.kw));
      pl.key_x.push_back(static_cast<int32_t>(j % pl.kw));
    }

  // Blocks of whole register tiles where the queries allow: 196 = 54 + 54 + 54 + 34, not 4 × 49.
  const int64_t even_split = (pl.N + kQueriesPerBlock - 1) / kQueriesPerBlock;
  const int64_t rows_per_block = round_up((pl.N + even_split - 1) / even_split, E::kAmx ? 16 : kTileRows);
  const int64_t query_blocks = (pl.N + rows_per_block - 1) / rows_per_block;
  const int64_t q_rows = query_blocks * rows_per_block;  // a group's gathered queries, N and zero rows
  // Small groups (windows), each with a few query blocks, are attended whole by one thread,
  // which packs the group where it then reads it (in its own cache). Large groups (global
  // attention) are packed first, all of them, and their query blocks are shared out.
  const int threads = at::get_num_threads();
  const bool whole_groups = pl.packed_per_group * 2 * sizeof(uint32_t) <= (256 << 10) && pr.groups >= 4 * threads;
  std::unique_ptr<uint32_t[]> packed, queries;
  std::unique_ptr<float[]> terms;
  if (!whole_groups) {
    packed.reset(new uint32_t[size_t(2 * pr.groups * pl.packed_per_group)]);
    queries.reset(new uint32_t[size_t(pr.groups * q_rows * pl.depth)]);
    terms.reset(new float[size_t(pr.groups * pl.terms_per_group)]);
    torch_parallel_for(0, pr.groups, 1, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g) {
        pack_group<E>(pl, g, packed.get() + g * pl.packed_per_group,
                      packed.get() + (pr.groups + g) * pl.packed_per_group);
        uint32_t* q = queries.get() + g * q_rows * pl.depth;
        gather_queries(pl, g, q_rows, q);
        if (pl.rel_h) relative_terms<E>(pl, q, terms.get() + g * pl.terms_per_group);
      }
    });
  }

  // Items (a group, or a query block of one) are handed out one at a time: they differ in cost
  // (the grid's last window row has fewer queries), and on a shared machine one thread may be
  // held up while the other is not.
  const int64_t items = whole_groups ? pr.groups : pr.groups * query_blocks;
  std::atomic<int64_t> next{0};
  torch_parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    Scratch s;
    if (!pl.probability_tiles || E::kAmx) s.S.resize(size_t(rows_per_block * pl.blocks.padded));
    s.P.resize(size_t(rows_per_block * pl.blocks.padded / E::kPerUnit));
    s.O.resize(size_t(rows_per_block * pr.d));
    s.max.resize(size_t(rows_per_block));
    s.sum.resize(size_t(rows_per_block));
    if (pl.probability_tiles) s.sum_lanes.resize(size_t(rows_per_block * kLanes));
    std::vector<uint32_t> group_kv(whole_groups ? size_t(2 * pl.packed_per_group) : 0);
    std::vector<uint32_t> group_q(whole_groups ? size_t(q_rows * pl.depth) : 0);
    std::vector<float> group_terms(whole_groups ? size_t(pl.terms_per_group) : 0);
    for (int64_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
      const int64_t g = whole_groups ? item : item / query_blocks;
      const int64_t last = pr.tokens.rows_with_tokens(g);
      if (whole_groups) {
        pack_group<E>(pl, g, group_kv.data(), group_kv.data() + pl.packed_per_group);
        gather_queries(pl, g, q_rows, group_q.data());
        if (pl.rel_h) relative_terms<E>(pl, group_q.data(), group_terms.data());
        const Group group{g, group_kv.data(), group_kv.data() + pl.packed_per_group,
                          pl.rel_h ? group_terms.data() : nullptr, group_q.data()};
        for (int64_t i0 = 0; i0 < last; i0 += rows_per_block)
          attend_queries<E>(pl, group, s, i0, std::min(rows_per_block, last - i0));
      } else {
        const int64_t i0 = item % query_blocks * rows_per_block;
        const Group group{g, packed.get() + g * pl.packed_per_group, packed.get() + (pr.groups + g) * pl.packed_per_group,
                          pl.rel_h ? terms.get() + g * pl.terms_per_group : nullptr,
                          queries.get() + g * q_rows * pl.depth};
        if (i0 < last) attend_queries<E>(pl, group, s, i0, std::min(rows_per_block, last - i0));
      }
    }
  });
}

}  // namespace
}  // namespace segkit::kernels::fused
