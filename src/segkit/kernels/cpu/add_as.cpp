#include "kernels/cpu/add_as.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cstdint>

#include "core/cpu_features.h"
#include "core/torch_parallel.h"
#include "kernels/aten_path.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_ADD_AS_AVX512 1
#include "kernels/cpu/avx512_bfloat16.h"
// GCC 12's AVX-512 headers make "undefined" vectors by self-assignment, which its own
// (maybe-)uninitialized checks then report.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#else
#define SEGKIT_ADD_AS_AVX512 0
#endif

namespace segkit::kernels {

namespace {

// Elements [begin, end) of out = a + b, b repeating every `period` elements.
template <typename T>
void add_scalar(const float* a, const float* b, int64_t period, T* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(a[i] + b[i % period]);
}

#if SEGKIT_ADD_AS_AVX512
// The same, 16 lanes at a time within each repetition of b (the tail of each in scalar code,
// which rounds as store16 does).
template <typename T>
__attribute__((target("avx512f"))) void add_avx512(const float* a, const float* b, int64_t period, T* out,
                                                   int64_t begin, int64_t end) {
  int64_t i = begin;
  while (i < end) {
    const int64_t offset = i % period, stop = std::min(end, i + (period - offset));
    const float* bb = b - (i - offset);  // bb[j] = b[j % period] within this repetition
    for (; i + 16 <= stop; i += 16)
      avx512::store16(out + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(bb + i)));
    for (; i < stop; ++i) out[i] = static_cast<T>(a[i] + bb[i]);
  }
}
#endif

template <typename T>
void add(const at::Tensor& a, const at::Tensor& b, const at::Tensor& out) {
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  T* po = out.data_ptr<T>();
  const int64_t period = b.numel();
  const bool vector = SEGKIT_ADD_AS_AVX512 && core::cpu_has_avx512();
  torch_parallel_for(0, a.numel(), int64_t(1) << 15, [&](int64_t begin, int64_t end) {
#if SEGKIT_ADD_AS_AVX512
    if (vector) return add_avx512(pa, pb, period, po, begin, end);
#endif
    add_scalar(pa, pb, period, po, begin, end);
  });
}

// b's shape, leading ones dropped, is a's last dimensions.
bool repeats_over_leading(const at::Tensor& a, const at::Tensor& b) {
  int64_t dims = b.dim();
  while (dims > 0 && b.size(b.dim() - dims) == 1) --dims;
  if (dims > a.dim() || b.numel() == 0) return false;
  for (int64_t d = 1; d <= dims; ++d)
    if (b.size(-d) != a.size(-d)) return false;
  return true;
}

}  // namespace

at::Tensor add_as(const at::Tensor& a, const at::Tensor& b, at::ScalarType out_type) {
  const bool typed = a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat &&
                     (out_type == at::kFloat || out_type == at::kBFloat16);
  if (!typed || !hand_written_path({&a, &b}) || !a.is_contiguous() || !b.is_contiguous() || !repeats_over_leading(a, b))
    return (a + b).to(out_type);
  at::Tensor out = at::empty(a.sizes(), a.options().dtype(out_type));
  if (a.numel() == 0) return out;
  if (out_type == at::kFloat) add<float>(a, b, out);
  else add<c10::BFloat16>(a, b, out);
  return out;
}

}  // namespace segkit::kernels
