#include "kernels/cpu/layer_norm.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_LAYER_NORM_AVX512 1
#include <immintrin.h>

#include "kernels/cpu/avx512_mask.h"
// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#else
#define SEGKIT_LAYER_NORM_AVX512 0
#endif

namespace segkit::kernels {

namespace {

#if SEGKIT_LAYER_NORM_AVX512
#define SEGKIT_LN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define SEGKIT_LN_INLINE SEGKIT_LN_TARGET inline __attribute__((always_inline))

SEGKIT_LN_INLINE void store(float* dst, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(dst, m, v); }
SEGKIT_LN_INLINE void store(uint16_t* dst, __mmask16 m, __m512 v) {
  _mm256_mask_storeu_epi16(dst, m, (__m256i)_mm512_cvtneps_pbh(v));
}

// Piece `source` of x (P elements) at c, zeros for a negative source.
SEGKIT_LN_INLINE __m512 load_piece(const float* x, int64_t source, int64_t P, int64_t c, __mmask16 m) {
  return source < 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, x + source * P + c);
}

// One output row of G·P elements: x's rows pieces[0..G) (P elements each, zeros where the index
// is negative) side by side, normalised as one row. The mean, then the variance of the
// deviations (both summed in 16 lanes), then y = (x − mean)·rstd·weight + bias stored as Out (y
// may be the row itself: each vector is read before it is written), and also as bfloat16 into
// `copy` where it is set.
template <class Out>
SEGKIT_LN_INLINE void normalize_pieces(const float* x, const int64_t* pieces, int64_t G, int64_t P, const float* weight,
                                       const float* bias, float eps, Out* y, uint16_t* copy) {
  const int64_t C = G * P;
  __m512 sum = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < P; c += 16) sum = _mm512_add_ps(sum, load_piece(x, pieces[g], P, c, avx512::first_lanes(P - c)));
  const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / static_cast<float>(C));
  __m512 squares = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < P; c += 16) {
      const __mmask16 m = avx512::first_lanes(P - c);
      const __m512 dev = _mm512_maskz_sub_ps(m, load_piece(x, pieces[g], P, c, m), mean);
      squares = _mm512_fmadd_ps(dev, dev, squares);
    }
  const float variance = _mm512_reduce_add_ps(squares) / static_cast<float>(C);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(variance + eps));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < P; c += 16) {
      const __mmask16 m = avx512::first_lanes(P - c);
      const int64_t k = g * P + c;
      const __m512 normed = _mm512_mul_ps(_mm512_sub_ps(load_piece(x, pieces[g], P, c, m), mean), rstd);
      const __m512 out = _mm512_fmadd_ps(normed, _mm512_maskz_loadu_ps(m, weight + k), _mm512_maskz_loadu_ps(m, bias + k));
      store(y + k, m, out);
      if (copy) store(copy + k, m, out);
    }
}

// Rows [begin, end) of C elements, each normalised (normalize_pieces with one piece). With
// `gather`, output row r reads x's row gather[r], or is zeros where that is negative; with
// `copy`, the rows are also stored there as bfloat16.
template <class Out>
SEGKIT_LN_TARGET void normalize_rows(const float* x, const float* weight, const float* bias, float eps, int64_t C,
                                     Out* y, int64_t begin, int64_t end, const int64_t* gather = nullptr,
                                     uint16_t* copy = nullptr) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t source = gather ? gather[r] : r;
    if (source < 0) {
      for (int64_t c = 0; c < C; c += 16) store(y + r * C + c, avx512::first_lanes(C - c), _mm512_setzero_ps());
      continue;
    }
    normalize_pieces(x, &source, 1, C, weight, bias, eps, y + r * C, copy ? copy + r * C : nullptr);
  }
}

// Output rows [begin, end) of G·P elements: row r is x's rows gather[r·G + g] side by side
// (normalize_pieces).
template <class Out>
SEGKIT_LN_TARGET void normalize_merged_rows(const float* x, const int64_t* gather, int64_t G, int64_t P,
                                            const float* weight, const float* bias, float eps, Out* y, int64_t begin,
                                            int64_t end) {
  for (int64_t r = begin; r < end; ++r)
    normalize_pieces(x, gather + r * G, G, P, weight, bias, eps, y + r * G * P, static_cast<uint16_t*>(nullptr));
}

bool cpu_has(at::ScalarType out) {
  return out == at::kFloat ? core::cpu_has_avx512() : out == at::kBFloat16 && core::cpu_has_avx512_bf16();
}

bool is_float_vector(const at::Tensor& t, int64_t n) {
  return t.defined() && t.scalar_type() == at::kFloat && t.device().is_cpu() && t.dim() == 1 && t.size(0) == n &&
         t.is_contiguous();
}
#endif

}  // namespace

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                      at::ScalarType out_type) {
#if SEGKIT_LAYER_NORM_AVX512
  const int64_t C = x.dim() >= 1 ? x.size(-1) : 0;
  if (C > 0 && cpu_has(out_type) && x.scalar_type() == at::kFloat && hand_written_path(x.device()) && x.is_contiguous() &&
      is_float_vector(weight, C) && is_float_vector(bias, C)) {
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(out_type));
    const int64_t rows = x.numel() / C;
    const float* px = x.data_ptr<float>();
    const float* pw = weight.data_ptr<float>();
    const float* pb = bias.data_ptr<float>();
    const float e = static_cast<float>(eps);
    // About 16k elements per task.
    torch_parallel_for(0, rows, (int64_t(1) << 14) / C + 1, [&](int64_t begin, int64_t end) {
      if (out_type == at::kFloat) normalize_rows(px, pw, pb, e, C, y.data_ptr<float>(), begin, end);
      else normalize_rows(px, pw, pb, e, C, reinterpret_cast<uint16_t*>(y.data_ptr()), begin, end);
    });
    return y;
  }
#endif
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps).to(out_type);
}

at::Tensor layer_norm_(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                       at::ScalarType copy_type) {
  if (!x.defined() || x.scalar_type() != at::kFloat || x.dim() < 1 || !x.is_contiguous())
    fail("layer_norm_", "x must be contiguous float32");
  const int64_t C = x.size(-1);
#if SEGKIT_LAYER_NORM_AVX512
  const bool copied = copy_type != at::kFloat;
  if (C > 0 && cpu_has(copied ? copy_type : at::kFloat) && hand_written_path(x.device()) && is_float_vector(weight, C) &&
      is_float_vector(bias, C)) {
    at::Tensor copy = copied ? at::empty(x.sizes(), x.options().dtype(copy_type)) : at::Tensor();
    float* px = x.data_ptr<float>();
    uint16_t* pc = copied ? reinterpret_cast<uint16_t*>(copy.data_ptr()) : nullptr;
    const float* pw = weight.data_ptr<float>();
    const float* pb = bias.data_ptr<float>();
    const float e = static_cast<float>(eps);
    torch_parallel_for(0, x.numel() / C, (int64_t(1) << 14) / C + 1, [&](int64_t begin, int64_t end) {
      normalize_rows(px, pw, pb, e, C, px, begin, end, nullptr, pc);
    });
    return copy;
  }
#endif
  const at::Tensor normed = at::layer_norm(x, {C}, weight, bias, eps);
  x.copy_(normed);
  return copy_type == at::kFloat ? at::Tensor() : normed.to(copy_type);
}

at::Tensor layer_norm_rows(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& weight, const at::Tensor& bias,
                           double eps, at::ScalarType out_type) {
  if (!x.defined() || x.dim() != 2 || !rows.defined() || rows.dim() != 1 || rows.scalar_type() != at::kLong)
    fail("layer_norm_rows", "x must be N × C and rows a vector of int64 row indices");
  const int64_t C = x.size(1);
#if SEGKIT_LAYER_NORM_AVX512
  if (C > 0 && cpu_has(out_type) && x.scalar_type() == at::kFloat && hand_written_path({&x, &rows}) &&
      x.is_contiguous() && is_float_vector(weight, C) && is_float_vector(bias, C)) {
    const at::Tensor index = rows.contiguous();
    const int64_t* gather = index.data_ptr<int64_t>();
    const int64_t M = index.numel(), N = x.size(0);
    for (int64_t i = 0; i < M; ++i)
      if (gather[i] >= N) fail("layer_norm_rows", "row " + std::to_string(gather[i]) + " of " + std::to_string(N));
    at::Tensor y = at::empty({M, C}, x.options().dtype(out_type));
    const float* px = x.data_ptr<float>();
    const float* pw = weight.data_ptr<float>();
    const float* pb = bias.data_ptr<float>();
    const float e = static_cast<float>(eps);
    torch_parallel_for(0, M, (int64_t(1) << 14) / C + 1, [&](int64_t begin, int64_t end) {
      if (out_type == at::kFloat) normalize_rows(px, pw, pb, e, C, y.data_ptr<float>(), begin, end, gather);
      else normalize_rows(px, pw, pb, e, C, reinterpret_cast<uint16_t*>(y.data_ptr()), begin, end, gather);
    });
    return y;
  }
#endif
  // ATen: the normed rows with a row of zeros after them, where the negative indices point.
  const at::Tensor normed = at::layer_norm(x, {C}, weight, bias, eps);
  const at::Tensor padded = at::cat({normed, at::zeros({1, C}, normed.options())});
  return padded.index_select(0, at::where(rows >= 0, rows, x.size(0))).to(out_type);
}

at::Tensor layer_norm_merged_rows(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& weight,
                                  const at::Tensor& bias, double eps, at::ScalarType out_type) {
  if (!x.defined() || x.dim() != 2 || !rows.defined() || rows.dim() != 2 || rows.scalar_type() != at::kLong)
    fail("layer_norm_merged_rows", "x must be N × P and rows M × G int64 row indices");
  const int64_t P = x.size(1), G = rows.size(1), M = rows.size(0), N = x.size(0);
#if SEGKIT_LAYER_NORM_AVX512
  if (P > 0 && G > 0 && cpu_has(out_type) && x.scalar_type() == at::kFloat && hand_written_path({&x, &rows}) &&
      x.is_contiguous() && is_float_vector(weight, G * P) && is_float_vector(bias, G * P)) {
    const at::Tensor index = rows.contiguous();
    const int64_t* gather = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < M * G; ++i)
      if (gather[i] >= N)
        fail("layer_norm_merged_rows", "row " + std::to_string(gather[i]) + " of " + std::to_string(N));
    at::Tensor y = at::empty({M, G * P}, x.options().dtype(out_type));
    const float* px = x.data_ptr<float>();
    const float* pw = weight.data_ptr<float>();
    const float* pb = bias.data_ptr<float>();
    const float e = static_cast<float>(eps);
    torch_parallel_for(0, M, (int64_t(1) << 14) / (G * P) + 1, [&](int64_t begin, int64_t end) {
      if (out_type == at::kFloat) normalize_merged_rows(px, gather, G, P, pw, pb, e, y.data_ptr<float>(), begin, end);
      else normalize_merged_rows(px, gather, G, P, pw, pb, e, reinterpret_cast<uint16_t*>(y.data_ptr()), begin, end);
    });
    return y;
  }
#endif
  // ATen: a row of zeros after x's rows, where the negative indices point.
  const at::Tensor padded = at::cat({x, at::zeros({1, P}, x.options())});
  const at::Tensor merged = padded.index_select(0, at::where(rows >= 0, rows, N).flatten()).view({M, G * P});
  return at::layer_norm(merged, {G * P}, weight, bias, eps).to(out_type);
}

}  // namespace segkit::kernels
