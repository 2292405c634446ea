#pragma once
// The running softmax of flash_attention_driver.h for one block of queries against one block of
// keys: the plan and scratch it works in, probability tiles (from the products to the
// probabilities in registers, the score terms by a hook's tile layout) and block_softmax (over
// stored products, the score terms by the hook's scores). Included only by the driver.
// Besides gemm_tiles.h's, the element trait E provides:
//   Element             the stored type of q, k, v, the probabilities and the output;
//   kPerUnit            elements per 32-bit unit (1 for float32, 2 for bfloat16);
//   kCoarseExp          whether the probabilities' exponential may be exact to only ~4e-5;
//   store(dst, v)       16 floats stored as 16 Elements;
//   load(src)           16 Elements loaded as 16 floats;
//   kAmx                whether the two products run on AMX tiles (amx_product; bfloat16 only):
//                       then query blocks and key blocks are whole tiles (16 rows, 32 keys),
//                       and the softmax reads the q·k products the tile unit stored.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_fused_problem.h"
#include "kernels/cpu/avx512_exp.h"
#include "kernels/cpu/avx512_mask.h"
#include "kernels/cpu/gemm_tiles.h"

namespace segkit::kernels::fused {
namespace {

using kernels::avx512::first_lanes;

constexpr int64_t kQueriesPerBlock = 64;  // with 256 keys: scores 64 kB, probabilities 32–64 kB
constexpr int64_t kKeysPerBlock = 256;    // about; whole key rows

// Keys are taken in blocks of whole key rows (so that a term of a query and a key row is one
// number across the row); each block is packed for the products: k as [units of d][padded]
// (one column per key) and v as [units of padded keys][d] (one column per head dimension),
// padding zero.
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

// The problem with its derived sizes.
struct Plan {
  const Problem& pr;
  int64_t N, kh, kw, units;  // kh×kw: the window (the whole grid for global attention)
  KeyBlocks blocks;
  // Units of the queries and packed keys along q·k's depth: `units`, rounded up to whole AMX
  // tiles (16) with AMX (ViT-H's heads of 80 bfloat16 are 40 units); the extra units are zero.
  int64_t depth = 0;
  int64_t packed_per_group = 0;  // units of packed k (and again, of which v uses less, v) per head
  int64_t terms_per_group = 0;   // floats of a group's score terms (the hook's per_group())
  float score_scale = 0;         // the problem's scale times log2 e: scores in base 2
  int64_t key_align = kLanes;    // keys of a block are padded to a multiple of this
  bool probability_tiles = false;  // the hook's terms fit probability tiles
};

// Per query block: scores S (float32) for one key block (with probability tiles, only the
// products AMX stored), the running output O (float32), each row's running maximum and sum;
// the probabilities P in the element type (held as units). With probability tiles, each row's
// sum is kept in 16 lanes (sum_lanes) until the end.
struct Scratch {
  std::vector<float> S, O, max, sum, sum_lanes;
  std::vector<uint32_t> P;
};

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
// hook's terms), so that the probabilities are 2^(s − max).
//
// A row's probabilities are taken against its running maximum m until a score passes
// m + kSlack: 2^kSlack bounds them, far inside float's range. Only then does m rise, and what
// the row has summed and accumulated so far is scaled down to the new maximum.
constexpr float kSlack = 12.0f;

// What a probability tile's rows need besides the products: where their terms (a hook's tile
// layout L, placed at the tile), probabilities and running state are.
template <class E, class L>
struct TileRows {
  typename E::Element* p;  // probabilities of the key block, row r at p + r·ldp
  int64_t ldp;
  int64_t c0;    // the panel's first key in the block
  int64_t keys;  // keys in the block: lanes past them are padding
  float scale;   // of q·k, in base 2
  L terms;
  float *max, *sum, *o;  // row r: max[r], sum[r·16 + lane], o[r·d + c]
  int64_t d;
  const float* scores;  // with AMX: the block's products q·k, stored; row r at scores + r·lds
  int64_t lds;
};

// Probabilities of MR queries against one panel of 16·NV keys, straight from the products (with
// AMX, from the products the tile unit stored).
// Score s = scale·(q_r·k_j) + h_r + t_rj, with the layout's row term h_r = terms.row_term(r)
// (one number across the panel) and key terms t_rj = terms.key_terms(r, lane), in base 2;
// p = 2^(s − max[r]) into p[r][c0 + j], 0 for padding keys. Per row: max[r], the running
// maximum (raised as above: then the row's sum lanes, its probabilities p[r][0, c0) of this key
// block and its output row o[r] are rescaled), and sum[r][16], the lanewise sum of its
// probabilities.
template <class E, int MR, int NV, class L>
SEGKIT_KERNEL_TARGET void probability_tile(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t depth,
                                           const TileRows<E, L>& t) {
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
    // The row term is the same across the panel: it joins the maximum in the shift.
    const float h = t.terms.row_term(r);
    __m512 top = _mm512_set1_ps(-infinity);
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = _mm512_fmadd_ps(acc[r][v], scale, t.terms.key_terms(r, kLanes * v));
      // Whole panels have all their keys; otherwise the block's last panel has padding keys.
      if (!L::kWholePanels) acc[r][v] = _mm512_mask_mov_ps(_mm512_set1_ps(-infinity), valid[v], acc[r][v]);
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
      if (!L::kWholePanels) e = _mm512_maskz_mov_ps(valid[v], e);
      total = _mm512_add_ps(total, e);
      E::store(row + t.c0 + kLanes * v, e);
    }
    _mm512_storeu_ps(sum, total);
  }
}

template <class E, class L>
using ProbabilityTileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, const TileRows<E, L>&);

template <class E, int MR, class L>
ProbabilityTileFn<E, L> probability_tile_for(int nv) {
  if (L::kWholePanels) return probability_tile<E, MR, 4, L>;
  return nv == 1   ? probability_tile<E, MR, 1, L>
         : nv == 2 ? probability_tile<E, MR, 2, L>
         : nv == 3 ? probability_tile<E, MR, 3, L>
                   : probability_tile<E, MR, 4, L>;
}

template <class E, class L>
ProbabilityTileFn<E, L> probability_tile_for(int mr, int nv) {
  switch (mr) {
    case 1: return probability_tile_for<E, 1, L>(nv);
    case 2: return probability_tile_for<E, 2, L>(nv);
    case 3: return probability_tile_for<E, 3, L>(nv);
    case 4: return probability_tile_for<E, 4, L>(nv);
    case 5: return probability_tile_for<E, 5, L>(nv);
    default: return probability_tile_for<E, 6, L>(nv);
  }
}

// P for one key block (from key first_key) by probability tiles, the terms by `layout`, the
// hook's tile layout for the query block.
template <class E, class L>
void probabilities(const Plan& pl, const L& layout, Scratch& s, const uint32_t* q, const uint32_t* k, int64_t rows,
                   int64_t first_key, int64_t keys) {
  const int64_t ld = pl.blocks.padded, depth = pl.depth;
  TileRows<E, L> t{};
  t.ldp = ld;
  t.keys = keys;
  t.scale = pl.score_scale;
  t.d = pl.pr.d;
  t.lds = ld;
  auto* P = reinterpret_cast<typename E::Element*>(s.P.data());
  for (int64_t c0 = 0; c0 < keys; c0 += kPanel) {
    const int nv = static_cast<int>(std::min(kPanel, ld - c0) / kLanes);
    const ProbabilityTileFn<E, L> fn_rows = probability_tile_for<E, L>(kTileRows, nv);
    t.c0 = c0;
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      t.p = P + r0 * ld;
      t.terms = layout.at(r0, first_key + c0);
      t.max = s.max.data() + r0;
      t.sum = s.sum_lanes.data() + r0 * kLanes;
      t.o = s.O.data() + r0 * t.d;
      t.scores = s.S.data() + r0 * ld;
      (r0 + kTileRows <= rows ? fn_rows : probability_tile_for<E, L>(static_cast<int>(rows - r0), nv))(
          q + r0 * depth, depth, k + c0 * depth, depth, t);
    }
  }
}

// Turns rows' products q·k for one key block (from key first_key) into scores with the hook's
// terms, updates the running maximum and sum, writes the block's probabilities and rescales O.
template <class E, class Terms>
SEGKIT_KERNEL_TARGET void block_softmax(const Plan& pl, const Terms& terms, const typename Terms::Rows& block_terms,
                                        Scratch& s, int64_t rows, int64_t first_key, int64_t keys) {
  const int64_t ld = pl.blocks.padded;
  const __m512 scale = _mm512_set1_ps(pl.score_scale);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s.S.data() + r * ld;
    const __m512 vmax = terms.scores(block_terms, r, first_key, keys, scale, row);
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

}  // namespace
}  // namespace segkit::kernels::fused
