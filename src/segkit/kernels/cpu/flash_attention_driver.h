#pragma once
// The blocked flash-attention driver of the fused attention kernels: per head and window, packs
// k and v, gathers the queries, and for each block of queries runs over the key blocks with
// scale·q·k, a running maximum and sum, the exponentials and P·V (flash_attention_softmax.h),
// then writes the output; neither scores nor probabilities exist as a whole. What a model adds
// to the scores is a hook, the template parameter Terms of attend<E, Terms>. Included by the
// hooks' headers (attention_fused_rel_pos.h: SAM's relative positions), which the per-ISA files
// (attention_fused_bf16.cpp, attention_fused_fp32.cpp) include after defining
// SEGKIT_KERNEL_TARGET; E is their element trait (gemm_tiles.h, flash_attention_softmax.h).
//
// A hook Terms is built once per problem, Terms(const Plan&), and provides (scores in base 2:
// natural-base terms times log2 e):
//   per_group()                    floats of score terms a group (head, window) needs;
//   group_terms(pl, q, terms)      makes them from the group's gathered queries (q: N rows of
//                                  pl.depth units), once per group, before its query blocks;
//   Rows, rows(terms, i0)          where the terms of the query block from row i0 are;
//   scores(rows, r, first_key, keys, scale, row)   query row r's stored products with the
//                                  key block's keys [first_key, + keys) → scale·product + terms
//                                  in place; returns the lanewise maximum over those keys (−∞ in
//                                  lanes without one);
//   kTiles, and then tiles() and with_tiles(rows, fn)   whether the terms fit probability tiles
//                                  (products to probabilities in registers): fn(layout) with a
//                                  tile layout L: kWholePanels (a panel's 64 keys are all keys:
//                                  no padding to mask), at(r0, key) the layout placed at query
//                                  row r0 and the panel from that key, row_term(r) (one number
//                                  for the panel) and key_terms(r, lane) (16 keys from lane).
// Functions taking or returning vectors are SEGKIT_KERNEL_INLINE (inlined in this target's copy).
// NoScoreTerms below is plain attention; SAM's decomposed relative positions are
// RelativePositionTerms (attention_fused_rel_pos.h). How others would fit (not written yet):
//   - an additive bias per query and key (Swin's relative position bias; Swin's 49-key windows
//     have their own smaller kernel, window_attention.h): group_terms expands
//     the head's table into the group's N×N terms (49×49 for 7×7 windows), scores adds a query's
//     row and a tile layout's key_terms 16 keys of it (kWholePanels false);
//   - masks as −∞ terms: Swin's shifted windows add their window's mask to that same expansion;
//     Mask2Former's masked cross-attention has a mask row per query (scores and key_terms blend
//     −∞ into masked lanes; it unmasks rows masked whole, which would make 0/0 here) and needs
//     q apart from k and v in Tokens;
//   - RoPE (SAM 3) is no score term: it rotates q and k before the products, a transform of the
//     rows in gather_queries and pack_group, with NoScoreTerms for the scores.
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/cpu/attention_fused_amx.h"
#include "kernels/cpu/flash_attention_softmax.h"

namespace segkit::kernels::fused {
namespace {

// The scores are scale·q·k only.
struct NoScoreTerms {
  struct Rows {};
  static constexpr bool kTiles = false;
  explicit NoScoreTerms(const Plan&) {}
  int64_t per_group() const { return 0; }
  void group_terms(const Plan&, const uint32_t*, float*) const {}
  Rows rows(const float*, int64_t) const { return {}; }
  SEGKIT_KERNEL_INLINE __m512 scores(const Rows&, int64_t, int64_t, int64_t keys, __m512 scale, float* row) const {
    __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < keys; j += kLanes) {
      const __mmask16 m = first_lanes(keys - j);
      const __m512 val = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), scale);
      _mm512_mask_storeu_ps(row + j, m, val);
      vmax = _mm512_mask_max_ps(vmax, m, vmax, val);
    }
    return vmax;
  }
};

// One group, ready to attend: its keys and values packed block by block (pack_group), the
// hook's score terms of all its queries, and its queries side by side (gather_queries), zero
// rows after them up to whole query blocks.
struct Group {
  int64_t g;
  const uint32_t *k, *v;
  const float* terms;
  const uint32_t* q;
};

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
template <class E, class Terms>
void attend_queries(const Plan& pl, const Terms& terms, const Group& group, Scratch& s, int64_t i0, int64_t rows) {
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
  const typename Terms::Rows block_terms = terms.rows(group.terms, i0);
  for (int64_t block = 0; block < kb.count; ++block) {
    const int64_t first_key = block * kb.keys, keys = kb.keys_in(block, pl.N);
    const int64_t padded = round_up(keys, pl.key_align);
    const uint32_t* k = group.k + block * depth * kb.padded;
    const uint32_t* v = group.v + block * units * kb.padded;
#if SEGKIT_AMX_KERNELS
    if (E::kAmx) amx_product(q, depth, k, kPanel * depth, depth, s.S.data(), kb.padded, tile_rows, padded, false);
#endif
    if (tiled) {
      if constexpr (Terms::kTiles)
        terms.with_tiles(block_terms, [&](const auto& layout) {
          probabilities<E>(pl, layout, s, q, k, rows, first_key, keys);
        });
    } else {
      if (!E::kAmx) dot<E>(q, depth, k, kPanel * depth, depth, s.S.data(), kb.padded, rows, padded, 1.0f, false);
      block_softmax<E>(pl, terms, block_terms, s, rows, first_key, keys);
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

// The fused attention of a problem, with the score terms of the hook Terms.
template <class E, class Terms>
void attend(const Problem& pr) {
  const Tokens& t = pr.tokens;
  // AMX's products take 16 units (32 keys) of depth at a time.
  const int64_t key_align = E::kAmx ? 2 * kLanes : kLanes;
  Plan pl{pr, t.kh * t.kw, t.kh, t.kw, t.units, key_blocks(t.kh, t.kw, key_align)};
  pl.key_align = key_align;
  pl.depth = E::kAmx ? round_up(pl.units, 16) : pl.units;
  pl.score_scale = pr.scale * kernels::avx512::kLog2e;
  pl.packed_per_group = pl.blocks.count * pl.blocks.padded * pl.depth;
  const Terms terms(pl);
  pl.terms_per_group = terms.per_group();
  if constexpr (Terms::kTiles) pl.probability_tiles = terms.tiles();

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
  std::unique_ptr<float[]> group_terms;
  if (!whole_groups) {
    packed.reset(new uint32_t[size_t(2 * pr.groups * pl.packed_per_group)]);
    queries.reset(new uint32_t[size_t(pr.groups * q_rows * pl.depth)]);
    group_terms.reset(new float[size_t(pr.groups * pl.terms_per_group)]);
    torch_parallel_for(0, pr.groups, 1, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g) {
        pack_group<E>(pl, g, packed.get() + g * pl.packed_per_group,
                      packed.get() + (pr.groups + g) * pl.packed_per_group);
        uint32_t* q = queries.get() + g * q_rows * pl.depth;
        gather_queries(pl, g, q_rows, q);
        terms.group_terms(pl, q, group_terms.get() + g * pl.terms_per_group);
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
    std::vector<float> own_terms(whole_groups ? size_t(pl.terms_per_group) : 0);
    for (int64_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
      const int64_t g = whole_groups ? item : item / query_blocks;
      const int64_t last = pr.tokens.rows_with_tokens(g);
      if (whole_groups) {
        pack_group<E>(pl, g, group_kv.data(), group_kv.data() + pl.packed_per_group);
        gather_queries(pl, g, q_rows, group_q.data());
        terms.group_terms(pl, group_q.data(), own_terms.data());
        const Group group{g, group_kv.data(), group_kv.data() + pl.packed_per_group, own_terms.data(), group_q.data()};
        for (int64_t i0 = 0; i0 < last; i0 += rows_per_block)
          attend_queries<E>(pl, terms, group, s, i0, std::min(rows_per_block, last - i0));
      } else {
        const int64_t i0 = item % query_blocks * rows_per_block;
        const Group group{g, packed.get() + g * pl.packed_per_group, packed.get() + (pr.groups + g) * pl.packed_per_group,
                          group_terms.get() + g * pl.terms_per_group, queries.get() + g * q_rows * pl.depth};
        if (i0 < last) attend_queries<E>(pl, terms, group, s, i0, std::min(rows_per_block, last - i0));
      }
    }
  });
}

}  // namespace
}  // namespace segkit::kernels::fused
