#include "kernels/cpu/window_attention.h"

#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_WINDOW_ATTENTION_AVX512 1
#define SEGKIT_WINDOW_TARGET __attribute__((target("avx512f")))
#include "kernels/cpu/avx512_kernel_file.h"
#include "kernels/cpu/avx512_row_products.h"
#else
#define SEGKIT_WINDOW_ATTENTION_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "window_attention";
constexpr int64_t kMaxTokens = 256;
constexpr int64_t kLanes = 16;
constexpr int64_t kRows = 4;  // query rows of a block

inline int64_t round_up_rows(int64_t n) { return (n + kRows - 1) / kRows * kRows; }

struct Problem {
  int64_t windows, tokens, heads, head_dim;
  const void* qkv;  // W×T×3×heads×dh
  void* out;        // W×T×heads·dh
  const float* bias;
  const float* mask;  // null: none
  float scale;
};

#if SEGKIT_WINDOW_ATTENTION_AVX512
static_assert(kRows == avx512::kBlockRows, "row_block_scores makes blocks of kRows");
using avx512::first_lanes;
using avx512::load16;
using avx512::store16;

// One thread's window in float32, read once row by row (the order the hardware prefetches
// best): queries and values as T rows of C = heads·dh, keys transposed (C rows of `padded`
// keys, zeros past the last key); and a block's scores, then probabilities.
struct Buffers {
  std::vector<float> queries, keys, values, scores;
};

template <typename T>
SEGKIT_WINDOW_TARGET void unpack(const Problem& p, const T* window, int64_t padded, Buffers& b) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim;
  float* keys = b.keys.data();
  for (int64_t t = 0; t < n; ++t) {
    const T* row = window + t * 3 * C;
    for (int64_t c = 0; c < C; c += kLanes) _mm512_storeu_ps(b.queries.data() + t * C + c, load16(row + c));
    // Element by element from the source: a vector store read back a float at a time would
    // stall on store-to-load forwarding.
    for (int64_t c = 0; c < C; ++c) keys[c * padded + t] = static_cast<float>(row[C + c]);
    for (int64_t c = 0; c < C; c += kLanes) _mm512_storeu_ps(b.values.data() + t * C + c, load16(row + 2 * C + c));
  }
  for (int64_t c = 0; c < C; ++c) std::fill(keys + c * padded + n, keys + (c + 1) * padded, 0.0f);
}

// Row r's scores → unnormalised probabilities exp(s − max) in place (zero past the last key);
// returns 1 / their sum.
SEGKIT_WINDOW_TARGET float softmax_row(const Problem& p, float* s, const float* bias, const float* mask) {
  const int64_t n = p.tokens;
  const __m512 scale = _mm512_set1_ps(p.scale), minus_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vmax = minus_infinity;
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = first_lanes(n - j);
    __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(s + j), scale), _mm512_maskz_loadu_ps(m, bias + j));
    if (mask) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, mask + j));
    x = _mm512_mask_mov_ps(minus_infinity, m, x);
    _mm512_storeu_ps(s + j, x);
    vmax = _mm512_max_ps(vmax, x);
  }
  const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __m512 e = _mm512_maskz_mov_ps(first_lanes(n - j), avx512::exp(_mm512_sub_ps(_mm512_loadu_ps(s + j), row_max)));
    _mm512_storeu_ps(s + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// Query rows [i0, i0 + rows) of the unpacked window w and head h, kDh vectors of 16 head
// dimensions; rows past the block's end compute on zero queries and are never written.
template <typename T, int kDh>
SEGKIT_WINDOW_TARGET void attend_rows(const Problem& p, int64_t w, int64_t h, int64_t i0, int64_t rows, int64_t padded,
                                      Buffers& b, T* out) {
  const int64_t n = p.tokens, dh = p.head_dim, C = p.heads * dh;
  const float* q = b.queries.data() + i0 * C + h * dh;
  const float* keys = b.keys.data() + h * dh * padded;
  float* scores = b.scores.data();
  avx512::row_block_scores(q, C, dh, keys, padded, scores);
  float inverse_sum[kRows] = {};
  for (int64_t r = 0; r < kRows; ++r) {
    float* s = scores + r * padded;
    if (r >= rows) {
      std::fill(s, s + padded, 0.0f);
      continue;
    }
    const int64_t t = i0 + r;
    inverse_sum[r] = softmax_row(p, s, p.bias + (h * n + t) * n, p.mask ? p.mask + (w * n + t) * n : nullptr);
  }
  __m512 acc[kRows][kDh];
  for (int64_t r = 0; r < kRows; ++r)
    for (int d = 0; d < kDh; ++d) acc[r][d] = _mm512_setzero_ps();
  avx512::row_block_values<kDh>(scores, padded, b.values.data() + h * dh, C, n, acc);
  for (int64_t r = 0; r < rows; ++r) {
    T* dst = out + (i0 + r) * C + h * dh;
    const __m512 inverse = _mm512_set1_ps(inverse_sum[r]);
    for (int d = 0; d < kDh; ++d) store16(dst + d * kLanes, _mm512_mul_ps(acc[r][d], inverse));
  }
}

template <typename T, int kDh>
SEGKIT_WINDOW_TARGET void attend_windows(const Problem& p, int64_t begin, int64_t end) {
  const int64_t n = p.tokens, C = p.heads * p.head_dim, padded = (n + kLanes - 1) / kLanes * kLanes;
  thread_local Buffers b;
  b.queries.resize(static_cast<size_t>((round_up_rows(n)) * C));
  b.keys.resize(static_cast<size_t>(C * padded));
  b.values.resize(static_cast<size_t>(n * C));
  b.scores.resize(static_cast<size_t>(kRows * padded));
  // Query rows past the last token (a partial last block) read zeros.
  std::fill(b.queries.begin() + n * C, b.queries.end(), 0.0f);
  const T* qkv = static_cast<const T*>(p.qkv);
  T* out = static_cast<T*>(p.out);
  for (int64_t w = begin; w < end; ++w) {
    unpack(p, qkv + w * n * 3 * C, padded, b);
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t i0 = 0; i0 < n; i0 += kRows)
        attend_rows<T, kDh>(p, w, h, i0, std::min(kRows, n - i0), padded, b, out + w * n * C);
  }
}

template <typename T>
void attend_all(const Problem& p) {
  torch_parallel_for(0, p.windows, 1, [&](int64_t begin, int64_t end) {
    switch (p.head_dim / kLanes) {
      case 1: attend_windows<T, 1>(p, begin, end); break;
      case 2: attend_windows<T, 2>(p, begin, end); break;
      case 3: attend_windows<T, 3>(p, begin, end); break;
      default: attend_windows<T, 4>(p, begin, end); break;
    }
  });
}
#endif

}  // namespace

bool window_attention_supports(const at::Tensor& qkv) {
  if (!SEGKIT_WINDOW_ATTENTION_AVX512 || !core::cpu_has_avx512() || !hand_written_path({&qkv})) return false;
  if (qkv.dim() != 5 || qkv.size(2) != 3 || !qkv.is_contiguous()) return false;
  if (qkv.scalar_type() != at::kFloat && qkv.scalar_type() != at::kBFloat16) return false;
  const int64_t dh = qkv.size(4);
  return qkv.size(1) >= 1 && qkv.size(1) <= kMaxTokens && dh % kLanes == 0 && dh >= kLanes && dh <= 4 * kLanes;
}

at::Tensor window_attention(const at::Tensor& qkv, double scale, const at::Tensor& bias, const at::Tensor& mask) {
  require_cpu(kName, {&qkv, &bias, &mask});
  if (!window_attention_supports(qkv)) fail(kName, "qkv of an unsupported type, layout or size (window_attention_supports)");
  const int64_t windows = qkv.size(0), tokens = qkv.size(1), heads = qkv.size(3), head_dim = qkv.size(4);
  auto float_contiguous = [](const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.is_contiguous(); };
  if (!bias.defined() || !float_contiguous(bias) || bias.sizes() != at::IntArrayRef({heads, tokens, tokens}))
    fail(kName, "bias must be contiguous float32 heads×T×T");
  if (mask.defined() && (!float_contiguous(mask) || mask.sizes() != at::IntArrayRef({windows, tokens, tokens})))
    fail(kName, "mask must be contiguous float32 W×T×T");
  at::Tensor out = at::empty({windows, tokens, heads * head_dim}, qkv.options());
  if (out.numel() == 0) return out;
#if SEGKIT_WINDOW_ATTENTION_AVX512
  const Problem p{windows, tokens, heads, head_dim, qkv.data_ptr(), out.data_ptr(), bias.data_ptr<float>(),
                  mask.defined() ? mask.data_ptr<float>() : nullptr, static_cast<float>(scale)};
  if (qkv.scalar_type() == at::kFloat) attend_all<float>(p);
  else attend_all<c10::BFloat16>(p);
#endif
  return out;
}

}  // namespace segkit::kernels
