#include "models/sam/attention_bf16.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_BF16_KERNEL 1
#include <immintrin.h>
#endif

// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// maybe-uninitialized check then reports from every caller.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace segkit::sam {

#if SEGKIT_BF16_KERNEL

namespace {

// Only these functions use AVX-512: the rest of the build stays portable, and the kernel runs
// only after the CPU check in fused_attention_bf16_supported.
#define SEGKIT_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
// Helpers taking or returning vectors are inlined into their callers (same target), never
// called across targets.
#define SEGKIT_BF16_INLINE SEGKIT_BF16_TARGET inline __attribute__((always_inline))

constexpr int64_t kLanes = 16;
constexpr int64_t kQueriesPerBlock = 64;  // with 256 keys: scores 64 kB, probabilities 32 kB
constexpr int64_t kKeysPerBlock = 256;    // about; whole key rows
constexpr int kTileRows = 6;              // 6 rows × 4 vectors: 24 accumulators of 32 registers
constexpr int kTileVectors = 4;
constexpr int64_t kPanel = kLanes * kTileVectors;  // columns of a packed panel

int64_t whole_vectors(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Where each head's q, k, v and output rows live. Group g is (image, window, head) with the
// head fastest; row n of a window is token (y, x) = (wy·kh + n / kw, wx·kw + n % kw) of the
// image's H×W grid. Tokens past the grid are padding: their q, k and v rows are `pad` (upstream
// pads the normed tokens with zeros, so their projections are the bias) and they have no output.
struct Tokens {
  const uint16_t* qkv;  // token (b, y, x): qkv + b·sb + y·sy + x·sx; then q, k, v of every head
  int64_t sb, sy, sx;
  uint16_t* out;  // token (b, y, x): out + b·ob + y·oy + x·ox; then every head's output
  int64_t ob, oy, ox;
  const uint16_t* pad;  // 3·heads·d elements
  int64_t H, W, kh, kw, windows_y, windows_x, heads, d;

  // Row n of group g in part 0 (q), 1 (k) or 2 (v); its output row, null for padding.
  const uint16_t* row(int64_t g, int64_t n, int part) const {
    int64_t b, y, x;
    const int64_t head = locate(g, n, b, y, x);
    const int64_t offset = (part * heads + head) * d;
    return (y < H && x < W ? qkv + b * sb + y * sy + x * sx : pad) + offset;
  }
  uint16_t* output(int64_t g, int64_t n) const {
    int64_t b, y, x;
    const int64_t head = locate(g, n, b, y, x);
    return y < H && x < W ? out + b * ob + y * oy + x * ox + head * d : nullptr;
  }
  int64_t locate(int64_t g, int64_t n, int64_t& b, int64_t& y, int64_t& x) const {
    const int64_t window = g / heads;
    b = window / (windows_y * windows_x);
    y = window / windows_x % windows_y * kh + n / kw;
    x = window % windows_x * kw + n % kw;
    return g % heads;
  }
};

// Keys are taken in blocks of whole key rows; each block is packed for the products:
// k as [d/2][padded][2] (pairs of head dimensions, one column per key) and v as
// [padded/2][d][2] (pairs of keys, one column per head dimension), padding zero.
struct KeyBlocks {
  int64_t rows;    // key rows (of kw keys) per block
  int64_t keys;    // rows·kw
  int64_t padded;  // keys rounded up to whole vectors
  int64_t count;
  int64_t keys_in(int64_t block, int64_t N) const { return std::min(keys, N - block * keys); }
};

KeyBlocks key_blocks(int64_t kh, int64_t kw) {
  KeyBlocks kb{};
  const int64_t N = kh * kw;
  kb.rows = N <= kKeysPerBlock * 5 / 4 ? kh : std::clamp<int64_t>((kKeysPerBlock + kw / 2) / kw, 1, kh);
  kb.keys = kb.rows * kw;
  kb.padded = whole_vectors(kb.keys);
  kb.count = (kh + kb.rows - 1) / kb.rows;
  return kb;
}

struct Problem {
  int64_t groups, N, d, kh, kw;  // kh×kw: the window (the whole grid for global attention)
  float scale;
  Tokens tokens;
  // The relative-position tables, packed like keys: for each query row (column), its kh (kw)
  // key rows (columns) as pairs of head dimensions × padded keys. Null without them.
  const uint16_t* rel_h = nullptr;
  const uint16_t* rel_w = nullptr;
  int64_t kh_padded, kw_padded;
  KeyBlocks blocks;
  int64_t packed_per_group;  // elements of packed k (and again of packed v) per head
};

// c[r][0 .. 16·NV) (+)= alpha · Σ_p a[r][2p .. 2p+1] · b[p][·][2] for MR rows: a's rows are
// bfloat16 with stride lda, b is packed in pairs (ldb elements from one pair to the next).
template <int MR, int NV>
SEGKIT_BF16_TARGET void dot_tile(const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t pairs,
                                 float* c, int64_t ldc, float alpha, bool accumulate) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + p * ldb + 32 * v);
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, sizeof pair);
      const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      float* out = c + r * ldc + kLanes * v;
      if (accumulate) _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), acc[r][v]));
      else _mm512_storeu_ps(out, _mm512_mul_ps(acc[r][v], _mm512_set1_ps(alpha)));
    }
}

using TileFn = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, int64_t, float*, int64_t, float, bool);

template <int MR>
TileFn tile_for(int nv) {
  return nv == 1 ? dot_tile<MR, 1> : nv == 2 ? dot_tile<MR, 2> : nv == 3 ? dot_tile<MR, 3> : dot_tile<MR, 4>;
}

TileFn tile(int mr, int nv) {
  switch (mr) {
    case 1: return tile_for<1>(nv);
    case 2: return tile_for<2>(nv);
    case 3: return tile_for<3>(nv);
    case 4: return tile_for<4>(nv);
    case 5: return tile_for<5>(nv);
    default: return tile_for<6>(nv);
  }
}

// C[rows × cols] (+)= alpha · A[rows × 2·pairs] · B, cols a multiple of 16, in register tiles.
// B is packed in panels of 64 columns (the last one may be narrower), `panel_stride` elements
// apart, each pairs × width × 2: a tile's whole B panel is contiguous.
void dot(const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, int64_t pairs, float* c,
         int64_t ldc, int64_t rows, int64_t cols, float alpha, bool accumulate) {
  for (int64_t c0 = 0; c0 < cols; c0 += kPanel) {
    const int64_t width = std::min(kPanel, cols - c0);
    const uint16_t* panel = b + c0 / kPanel * panel_stride;
    const TileFn fn_rows = tile(kTileRows, static_cast<int>(width / kLanes));
    int64_t r0 = 0;
    for (; r0 + kTileRows <= rows; r0 += kTileRows)
      fn_rows(a + r0 * lda, lda, panel, 2 * width, pairs, c + r0 * ldc + c0, ldc, alpha, accumulate);
    if (r0 < rows)
      tile(static_cast<int>(rows - r0), static_cast<int>(width / kLanes))(a + r0 * lda, lda, panel, 2 * width, pairs,
                                                                        c + r0 * ldc + c0, ldc, alpha, accumulate);
  }
}

// exp(x) for x <= 0, as attention_softmax.cpp's (Cephes' polynomial), with AVX-512's scalef
// for the power of two.
SEGKIT_BF16_INLINE __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(e, n);
}

SEGKIT_BF16_INLINE __mmask16 first_lanes(int64_t n) {
  return n >= kLanes ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Per query block: scores S (float32) for one key block, their probabilities P (bfloat16), the
// running output O (float32), and each row's running maximum and sum.
struct Scratch {
  std::vector<float> S, O, max, sum, rel_h, rel_w;
  std::vector<uint16_t> Q, P;  // the block's query rows, side by side; probabilities
};

// Adds the relative-position terms to rows' scores for one key block (starting at key row y0),
// updates the running maximum and sum, writes the block's probabilities and rescales O.
SEGKIT_BF16_TARGET void block_softmax(const Problem& pr, Scratch& s, int64_t rows, int64_t y0, int64_t keys) {
  const int64_t ld = pr.blocks.padded, kw = pr.kw;
  const int64_t key_rows = keys / kw;
  const float infinity = std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s.S.data() + r * ld;
    __m512 vmax = _mm512_set1_ps(-infinity);
    if (pr.rel_h) {
      const float* rh = s.rel_h.data() + r * pr.kh_padded;
      const float* rw = s.rel_w.data() + r * pr.kw_padded;
      for (int64_t y = 0; y < key_rows; ++y) {
        const __m512 bias = _mm512_set1_ps(rh[y0 + y]);
        float* seg = row + y * kw;
        for (int64_t x = 0; x < kw; x += kLanes) {
          const __mmask16 m = first_lanes(kw - x);
          const __m512 val = _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, seg + x), bias), _mm512_loadu_ps(rw + x));
          _mm512_mask_storeu_ps(seg + x, m, val);
          vmax = _mm512_mask_max_ps(vmax, m, vmax, val);
        }
      }
    } else {
      for (int64_t j = 0; j < keys; j += kLanes) {
        const __mmask16 m = first_lanes(keys - j);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, row + j));
      }
    }
    const float old_max = s.max[r], new_max = std::max(old_max, _mm512_reduce_max_ps(vmax));
    const float alpha = std::exp(old_max - new_max);  // 0 on the first block
    const __m512 vm = _mm512_set1_ps(new_max);
    __m512 vsum = _mm512_setzero_ps();
    uint16_t* p = s.P.data() + r * ld;
    for (int64_t j = 0; j < ld; j += kLanes) {
      const __m512 e = _mm512_maskz_mov_ps(first_lanes(keys - j), exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), vm)));
      vsum = _mm512_add_ps(vsum, e);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + j), (__m256i)_mm512_cvtneps_pbh(e));
    }
    s.sum[r] = s.sum[r] * alpha + _mm512_reduce_add_ps(vsum);
    s.max[r] = new_max;
    if (alpha != 1.0f) {
      float* o = s.O.data() + r * pr.d;
      const __m512 va = _mm512_set1_ps(alpha);
      for (int64_t c = 0; c < pr.d; c += kLanes) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), va));
    }
  }
}

SEGKIT_BF16_TARGET void write_output(const Problem& pr, const Scratch& s, int64_t g, int64_t i0, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    uint16_t* dst = pr.tokens.output(g, i0 + r);
    if (!dst) continue;  // a padding token
    const float* o = s.O.data() + r * pr.d;
    const __m512 inverse = _mm512_set1_ps(1.0f / s.sum[r]);
    for (int64_t c = 0; c < pr.d; c += kLanes)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c),
                          (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(o + c), inverse)));
  }
}

// One block of query rows [i0, i0 + rows) of group g against all key blocks.
void attend_queries(const Problem& pr, const uint16_t* packed_k, const uint16_t* packed_v, Scratch& s, int64_t g,
                    int64_t i0, int64_t rows) {
  const KeyBlocks& kb = pr.blocks;
  const int64_t d = pr.d;
  std::fill(s.O.begin(), s.O.begin() + rows * d, 0.0f);
  std::fill(s.max.begin(), s.max.begin() + rows, -std::numeric_limits<float>::infinity());
  std::fill(s.sum.begin(), s.sum.begin() + rows, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(s.Q.data() + r * d, pr.tokens.row(g, i0 + r, 0), d * sizeof(uint16_t));
  const uint16_t* q = s.Q.data();
  if (pr.rel_h) {
    // rel_h[i, y] = q_i · Rh[y_i, y]: one product for each run of queries in the same row;
    // rel_w[i, x] = q_i · Rw[x_i, x]: one per query. In float32, not rounded to bfloat16.
    for (int64_t r = 0; r < rows;) {
      const int64_t y = (i0 + r) / pr.kw, run = std::min(rows - r, (y + 1) * pr.kw - (i0 + r));
      dot(q + r * d, d, pr.rel_h + y * d * pr.kh_padded, kPanel * d, d / 2, s.rel_h.data() + r * pr.kh_padded,
          pr.kh_padded, run, pr.kh_padded, 1.0f, false);
      r += run;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t x = (i0 + r) % pr.kw;
      dot(q + r * d, d, pr.rel_w + x * d * pr.kw_padded, kPanel * d, d / 2, s.rel_w.data() + r * pr.kw_padded,
          pr.kw_padded, 1, pr.kw_padded, 1.0f, false);
    }
  }
  for (int64_t block = 0; block < kb.count; ++block) {
    const int64_t keys = kb.keys_in(block, pr.N);
    const int64_t padded = whole_vectors(keys);
    const uint16_t* k = packed_k + block * (d / 2) * kb.padded * 2;
    const uint16_t* v = packed_v + block * (kb.padded / 2) * d * 2;
    dot(q, d, k, kPanel * d, d / 2, s.S.data(), kb.padded, rows, padded, pr.scale, false);
    block_softmax(pr, s, rows, block * kb.rows, keys);
    dot(s.P.data(), kb.padded, v, kPanel * kb.padded, padded / 2, s.O.data(), d, rows, d, 1.0f, true);
  }
  write_output(pr, s, g, i0, rows);
}

// Packs n rows of 2·pairs bfloat16 (each at an even element) as the B of dot: panels of 64
// columns, one column per row, pairs × width × 2; columns n..padded zero. The loops run along
// the destination (the sources, a few kB per panel, stay in L1).
SEGKIT_BF16_TARGET void pack_rows(const uint16_t* const* rows, int64_t n, int64_t pairs, int64_t padded, uint16_t* packed) {
  uint32_t* dst = reinterpret_cast<uint32_t*>(packed);
  for (int64_t c0 = 0; c0 < padded; c0 += kPanel) {
    const int64_t width = std::min(kPanel, padded - c0), valid = std::clamp<int64_t>(n - c0, 0, width);
    uint32_t* panel = dst + c0 * pairs;
    for (int64_t p = 0; p < pairs; ++p) {
      uint32_t* column = panel + p * width;
      for (int64_t j = 0; j < valid; ++j) std::memcpy(column + j, rows[c0 + j] + 2 * p, sizeof(uint32_t));
      for (int64_t j = valid; j < width; ++j) column[j] = 0;
    }
  }
}

// Packs group g's keys and values block by block: keys as pack_rows does, values as pairs of
// keys (a zero key past the end) × head dimensions, in panels of 64 head dimensions.
SEGKIT_BF16_TARGET void pack_group(const Problem& pr, int64_t g, uint16_t* packed_k, uint16_t* packed_v) {
  const KeyBlocks& kb = pr.blocks;
  const int64_t d = pr.d, pairs = d / 2;
  std::vector<const uint16_t*> rows(static_cast<size_t>(kb.padded));
  for (int64_t block = 0; block < kb.count; ++block) {
    const int64_t j0 = block * kb.keys, keys = kb.keys_in(block, pr.N);
    for (int64_t j = 0; j < keys; ++j) rows[size_t(j)] = pr.tokens.row(g, j0 + j, 1);
    pack_rows(rows.data(), keys, pairs, kb.padded, packed_k + block * pairs * kb.padded * 2);
    for (int64_t j = 0; j < keys; ++j) rows[size_t(j)] = pr.tokens.row(g, j0 + j, 2);
    uint16_t* vp = packed_v + block * (kb.padded / 2) * d * 2;
    for (int64_t c0 = 0; c0 < d; c0 += kPanel) {
      const int64_t width = std::min(kPanel, d - c0);
      uint16_t* panel = vp + c0 * kb.padded;
      for (int64_t j = 0; j < kb.padded; j += 2) {
        uint16_t* dst = panel + j * width;
        const uint16_t* v0 = j < keys ? rows[size_t(j)] + c0 : nullptr;
        const uint16_t* v1 = j + 1 < keys ? rows[size_t(j + 1)] + c0 : nullptr;
        if (v0 && v1) {
          for (int64_t c = 0; c < width; ++c) {
            dst[2 * c] = v0[c];
            dst[2 * c + 1] = v1[c];
          }
        } else {
          for (int64_t c = 0; c < width; ++c) {
            dst[2 * c] = v0 ? v0[c] : 0;
            dst[2 * c + 1] = 0;
          }
        }
      }
    }
  }
}

}  // namespace

bool fused_attention_bf16_supported(int64_t head_dim) {
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("fma");
  return cpu && head_dim > 0 && head_dim % kLanes == 0 && head_dim <= 256;
}

void fused_attention_bf16(const at::Tensor& qkv_in, const at::Tensor& qkv_bias, int64_t heads, int64_t window,
                          const at::Tensor& rel_pos_h, const at::Tensor& rel_pos_w, double scale, const at::Tensor& out) {
  const bool shapes = qkv_in.defined() && qkv_in.dim() == 4 && heads > 0 && qkv_in.size(3) % (3 * heads) == 0 &&
                      out.defined() && out.dim() == 4 && out.size(0) == qkv_in.size(0) && out.size(1) == qkv_in.size(1) &&
                      out.size(2) == qkv_in.size(2) && out.size(3) * 3 == qkv_in.size(3) && window >= 0;
  const bool types = shapes && qkv_in.scalar_type() == at::kBFloat16 && out.scalar_type() == at::kBFloat16 &&
                     qkv_in.stride(3) == 1 && out.stride(3) == 1 &&
                     (!qkv_bias.defined() || (qkv_bias.scalar_type() == at::kBFloat16 && qkv_bias.numel() == qkv_in.size(3)));
  if (!types || !fused_attention_bf16_supported(qkv_in.size(3) / (3 * heads)))
    fail("fused_attention_bf16", "qkv, its bias or out of an unexpected shape, type or layout, or no AVX-512 BF16 here");
  // Rows are read as 32-bit pairs: they must start at even elements.
  const bool even = reinterpret_cast<uintptr_t>(qkv_in.data_ptr()) % 4 == 0 && qkv_in.stride(0) % 2 == 0 &&
                    qkv_in.stride(1) % 2 == 0 && qkv_in.stride(2) % 2 == 0;
  const at::Tensor qkv = even ? qkv_in : qkv_in.contiguous();
  const int64_t B = qkv.size(0), H = qkv.size(1), W = qkv.size(2);
  Problem pr{};
  pr.d = qkv.size(3) / (3 * heads);
  pr.kh = window > 0 ? window : H;
  pr.kw = window > 0 ? window : W;
  pr.N = pr.kh * pr.kw;
  pr.scale = static_cast<float>(scale);
  const at::Tensor pad = qkv_bias.defined() ? qkv_bias.contiguous() : at::zeros({qkv.size(3)}, qkv.options());
  Tokens& t = pr.tokens;
  t.qkv = reinterpret_cast<const uint16_t*>(qkv.data_ptr<at::BFloat16>());
  t.sb = qkv.stride(0), t.sy = qkv.stride(1), t.sx = qkv.stride(2);
  t.out = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  t.ob = out.stride(0), t.oy = out.stride(1), t.ox = out.stride(2);
  t.pad = reinterpret_cast<const uint16_t*>(pad.data_ptr<at::BFloat16>());
  t.H = H, t.W = W, t.kh = pr.kh, t.kw = pr.kw, t.heads = heads, t.d = pr.d;
  t.windows_y = (H + pr.kh - 1) / pr.kh;
  t.windows_x = (W + pr.kw - 1) / pr.kw;
  pr.groups = B * t.windows_y * t.windows_x * heads;
  if (pr.groups == 0) return;

  at::Tensor tables;  // packed rel_pos_h, then rel_pos_w
  if (rel_pos_h.defined() || rel_pos_w.defined()) {
    auto table = [&](const at::Tensor& r, int64_t n) {
      return r.defined() && r.scalar_type() == at::kBFloat16 && r.dim() == 3 && r.size(0) == n && r.size(1) == n &&
             r.size(2) == pr.d;
    };
    if (!table(rel_pos_h, pr.kh) || !table(rel_pos_w, pr.kw))
      fail("fused_attention_bf16", "relative-position tables of an unexpected shape");
    pr.kh_padded = whole_vectors(pr.kh);
    pr.kw_padded = whole_vectors(pr.kw);
    tables = at::empty({(pr.kh * pr.kh_padded + pr.kw * pr.kw_padded) * pr.d}, qkv.options());
    uint16_t* packed = reinterpret_cast<uint16_t*>(tables.data_ptr<at::BFloat16>());
    for (const auto& [table, n, padded, out_rows] : {std::tuple{rel_pos_h.contiguous(), pr.kh, pr.kh_padded, &pr.rel_h},
                                                     std::tuple{rel_pos_w.contiguous(), pr.kw, pr.kw_padded, &pr.rel_w}}) {
      const auto* r = reinterpret_cast<const uint16_t*>(table.data_ptr<at::BFloat16>());
      std::vector<const uint16_t*> rows(static_cast<size_t>(n));
      *out_rows = packed;
      for (int64_t a = 0; a < n; ++a, packed += pr.d * padded) {
        for (int64_t j = 0; j < n; ++j) rows[size_t(j)] = r + (a * n + j) * pr.d;
        pack_rows(rows.data(), n, pr.d / 2, padded, packed);
      }
    }
  }
  pr.blocks = key_blocks(pr.kh, pr.kw);
  pr.packed_per_group = pr.blocks.count * pr.blocks.padded * pr.d;

  at::Tensor packed = at::empty({2 * pr.groups * pr.packed_per_group}, qkv.options());
  uint16_t* packed_k = reinterpret_cast<uint16_t*>(packed.data_ptr<at::BFloat16>());
  uint16_t* packed_v = packed_k + pr.groups * pr.packed_per_group;
  at::parallel_for(0, pr.groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) pack_group(pr, g, packed_k + g * pr.packed_per_group, packed_v + g * pr.packed_per_group);
  });

  const int64_t query_blocks = (pr.N + kQueriesPerBlock - 1) / kQueriesPerBlock;
  const int64_t rows_per_block = (pr.N + query_blocks - 1) / query_blocks;
  at::parallel_for(0, pr.groups * query_blocks, 1, [&](int64_t begin, int64_t end) {
    Scratch s;
    s.Q.resize(rows_per_block * pr.d);
    s.S.resize(rows_per_block * pr.blocks.padded);
    s.P.resize(rows_per_block * pr.blocks.padded);
    s.O.resize(rows_per_block * pr.d);
    s.max.resize(rows_per_block);
    s.sum.resize(rows_per_block);
    s.rel_h.resize(rows_per_block * pr.kh_padded);
    s.rel_w.resize(rows_per_block * pr.kw_padded);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t g = item / query_blocks, i0 = item % query_blocks * rows_per_block;
      const int64_t rows = std::min(rows_per_block, pr.N - i0);
      if (rows > 0) attend_queries(pr, packed_k + g * pr.packed_per_group, packed_v + g * pr.packed_per_group, s, g, i0, rows);
    }
  });
}

#else  // no x86-64 kernel in this build

bool fused_attention_bf16_supported(int64_t) { return false; }

void fused_attention_bf16(const at::Tensor&, const at::Tensor&, int64_t, int64_t, const at::Tensor&, const at::Tensor&,
                          double, const at::Tensor&) {
  fail("fused_attention_bf16", "not built for this CPU");
}

#endif

}  // namespace segkit::sam
