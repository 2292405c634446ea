#include "kernels/cpu/gelu.h"

#include <ATen/ops/gelu.h>

#include <algorithm>
#include <cstdint>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_GELU_AVX512 1
#include "kernels/aten_path.h"
#include "kernels/cpu/avx512_bfloat16.h"
#include "kernels/cpu/avx512_exp.h"
#include "kernels/cpu/avx512_mask.h"
// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#else
#define SEGKIT_GELU_AVX512 0
#endif

namespace segkit::kernels {

namespace {

#if SEGKIT_GELU_AVX512
#define SEGKIT_GELU_TARGET __attribute__((target("avx512f,avx512dq")))

// gelu(x) = x/2 · (1 + erf(x/√2)), erf(z) = sign(z)·(1 − t·P(t)·e^(−z²)) with t = 1/(1 + p|z|)
// (Abramowitz and Stegun 7.1.26, absolute error under 1.5e-7): the formula of ATen's
// vectorised erf, so that both paths round alike.
SEGKIT_GELU_TARGET inline __attribute__((always_inline)) __m512 gelu(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 sign = _mm512_and_ps(z, _mm512_set1_ps(-0.0f));
  const __m512 abs = _mm512_xor_ps(z, sign);
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(abs, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  const __m512 gauss = avx512::exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(z, z)));
  const __m512 erf_abs = _mm512_fnmadd_ps(_mm512_mul_ps(gauss, t), p, _mm512_set1_ps(1.0f));
  const __m512 erf = _mm512_xor_ps(erf_abs, sign);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(erf, _mm512_set1_ps(1.0f)));
}

// y = gelu(y + bias) over rows [begin, end) of `cols` elements: float32 or bfloat16 y (computed
// in float32, rounded once), float32 bias or null.
template <typename T>
SEGKIT_GELU_TARGET void gelu_rows(T* y, const float* bias, int64_t cols, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    T* row = y + r * cols;
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      __m512 v = avx512::load16(row + c);
      if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + c));
      avx512::store16(row + c, gelu(v));
    }
    if (c == cols) continue;
    // The row's tail through a whole vector's buffer.
    const int64_t tail = cols - c;
    T buffer[16] = {};
    std::copy(row + c, row + cols, buffer);
    __m512 v = avx512::load16(buffer);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(avx512::first_lanes(tail), bias + c));
    avx512::store16(buffer, gelu(v));
    std::copy(buffer, buffer + tail, row + c);
  }
}

template <typename T>
void gelu_all(const at::Tensor& y, const float* bias) {
  const int64_t cols = y.size(-1), rows = y.numel() / cols;
  T* data = y.data_ptr<T>();
  // About 64k elements per task: enough to be worth a thread.
  torch_parallel_for(0, rows, (int64_t(1) << 16) / cols + 1,
                     [&](int64_t begin, int64_t end) { gelu_rows<T>(data, bias, cols, begin, end); });
}
#endif

}  // namespace

void add_bias_gelu_(const at::Tensor& y, const at::Tensor& bias) {
#if SEGKIT_GELU_AVX512
  const bool bias_ok = !bias.defined() || (bias.scalar_type() == at::kFloat && bias.device().is_cpu() &&
                                           bias.is_contiguous() && bias.dim() == 1 && y.dim() >= 1 &&
                                           bias.size(0) == y.size(-1));
  const bool type_ok = y.scalar_type() == at::kFloat || y.scalar_type() == at::kBFloat16;
  if (core::cpu_has_avx512() && type_ok && hand_written_path(y.device()) && y.is_contiguous() && y.dim() >= 1 &&
      y.size(-1) > 0 && bias_ok) {
    const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
    if (y.scalar_type() == at::kFloat) gelu_all<float>(y, b);
    else gelu_all<c10::BFloat16>(y, b);
    return;
  }
#endif
  at::Tensor out = y;
  if (bias.defined()) out.add_(bias);
  at::gelu_(out);
}

}  // namespace segkit::kernels
