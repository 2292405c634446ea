#pragma once
// exp(x) and 2^x in 16 float lanes of AVX-512, for the hand-vectorised kernels (softmax
// numerators, the erf in GELU). Include only from x86-64 code compiled with GCC or clang; the
// function carries its own instruction-set target and inlines into callers whose target
// includes AVX-512F.
#include <immintrin.h>

namespace segkit::kernels::avx512 {

// For x <= 88, within 2 ulp: x = n·ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts, so that r
// is exact), e^r by Cephes' polynomial, 2^n by scalef. Below -87 it returns exp(-87) (about
// 1.6e-38).
__attribute__((target("avx512f"), always_inline)) inline __m512 exp(__m512 x) {
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

// 2^x within 2e-7 (relative; about 2 ulp): x = n + r with |r| <= 1/2, 2^r by a degree-5
// polynomial fitted for the least largest relative error on that interval, 2^n by scalef. Fewer
// steps than exp: a softmax that takes its scores in base 2 (scaled by log2 e in an operation it
// does anyway) needs no range reduction by ln 2. Far below -126 the result flushes to zero.
__attribute__((target("avx512f"), always_inline)) inline __m512 exp2(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.326472731307149e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.671512991189957e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550733581185341e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022242426872253e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.931470036506653e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// log2 e, to take natural-base scores to base 2.
constexpr float kLog2e = 1.44269504088896341f;

}  // namespace segkit::kernels::avx512
