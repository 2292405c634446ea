#include "kernels/cpu/group_norm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_GROUP_NORM_AVX512 1
#include "core/cpu_features.h"
#include "kernels/cpu/avx512_kernel_file.h"
#else
#define SEGKIT_GROUP_NORM_AVX512 0
#endif

namespace segkit::kernels {

namespace {

constexpr const char* kName = "group_norm";

// One row of `pixels` pixels of c channels: p·scale + shift (clamped at 0 for the ReLU) in
// place, and rounded to bfloat16 into copy when there is one.
void apply_row(float* p, c10::BFloat16* copy, const float* sc, const float* sh, int64_t pixels, int64_t c, bool relu) {
  for (int64_t s = 0; s < pixels; ++s, p += c) {
    if (relu)
      for (int64_t k = 0; k < c; ++k) p[k] = std::max(p[k] * sc[k] + sh[k], 0.0f);
    else
      for (int64_t k = 0; k < c; ++k) p[k] = p[k] * sc[k] + sh[k];
    if (copy)
      for (int64_t k = 0; k < c; ++k) *copy++ = c10::BFloat16(p[k]);
  }
}

#if SEGKIT_GROUP_NORM_AVX512
// The same with the copy rounded 16 lanes at a time (as c10::BFloat16 rounds).
__attribute__((target("avx512f"))) void apply_row_avx512(float* p, c10::BFloat16* copy, const float* sc,
                                                         const float* sh, int64_t pixels, int64_t c, bool relu) {
  const int64_t whole = c / 16 * 16;
  for (int64_t s = 0; s < pixels; ++s, p += c, copy += c) {
    for (int64_t k = 0; k < whole; k += 16) {
      __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(p + k), _mm512_loadu_ps(sc + k), _mm512_loadu_ps(sh + k));
      if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      _mm512_storeu_ps(p + k, v);
      avx512::store16(copy + k, v);
    }
    apply_row(p + whole, copy + whole, sc + whole, sh + whole, 1, c - whole, relu);  // a pixel's last channels
  }
}
#endif

}  // namespace

at::Tensor group_norm_(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                       double eps, bool relu, at::ScalarType copy_type) {
  if (!x.defined() || x.dim() != 4 || groups <= 0 || x.size(1) % groups != 0 || weight.numel() != x.size(1) ||
      bias.numel() != x.size(1))
    fail(kName, "x must be B × C × H × W with C a multiple of the groups, and weight and bias C values");
  const bool copied = copy_type == at::kBFloat16;
  if (copy_type != at::ScalarType::Undefined && !copied) fail(kName, "the copy is bfloat16 or none");
  if (!hand_written_path({&x, &weight, &bias}) || x.scalar_type() != at::kFloat ||
      !x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    const at::Tensor y = at::group_norm(x, groups, weight, bias, eps);
    x.copy_(relu ? at::relu(y) : y);
    return copied ? x.to(at::kBFloat16) : at::Tensor();
  }
  const int64_t batch = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3), per_group = c / groups;
  float* data = x.data_ptr<float>();
  const at::Tensor w = weight.to(at::kFloat).contiguous(), b = bias.to(at::kFloat).contiguous();
  const float* gamma = w.data_ptr<float>();
  const float* beta = b.data_ptr<float>();

  // Per image row and group: sum and sum of squares.
  std::vector<double> sums(static_cast<size_t>(batch * height * groups * 2), 0.0);
  torch_parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> channel_sum(c), channel_sq(c);
    for (int64_t row = begin; row < end; ++row) {
      std::fill(channel_sum.begin(), channel_sum.end(), 0.0);
      std::fill(channel_sq.begin(), channel_sq.end(), 0.0);
      const float* p = data + row * width * c;
      for (int64_t s = 0; s < width; ++s, p += c)
        for (int64_t k = 0; k < c; ++k) {
          const double v = p[k];
          channel_sum[k] += v;
          channel_sq[k] += v * v;
        }
      double* out = sums.data() + row * groups * 2;
      for (int64_t k = 0; k < c; ++k) {
        out[2 * (k / per_group)] += channel_sum[k];
        out[2 * (k / per_group) + 1] += channel_sq[k];
      }
    }
  });
  // Per image and channel: value · scale + shift (clamped at 0 for the ReLU).
  std::vector<float> scale(static_cast<size_t>(batch * c)), shift(static_cast<size_t>(batch * c));
  const double count = static_cast<double>(height * width * per_group);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0, sq = 0;
      for (int64_t r = 0; r < height; ++r) {
        sum += sums[((n * height + r) * groups + g) * 2];
        sq += sums[((n * height + r) * groups + g) * 2 + 1];
      }
      const double mean = sum / count, variance = std::max(sq / count - mean * mean, 0.0);
      const double rstd = 1.0 / std::sqrt(variance + eps);
      for (int64_t k = g * per_group; k < (g + 1) * per_group; ++k) {
        scale[n * c + k] = static_cast<float>(rstd * gamma[k]);
        shift[n * c + k] = static_cast<float>(beta[k] - mean * rstd * gamma[k]);
      }
    }
  const at::Tensor copy = copied ? at::empty_like(x, x.options().dtype(at::kBFloat16)) : at::Tensor();
  c10::BFloat16* copy_data = copied ? copy.data_ptr<c10::BFloat16>() : nullptr;
#if SEGKIT_GROUP_NORM_AVX512
  const bool vectors = copied && core::cpu_has_avx512();
#else
  const bool vectors = false;
#endif
  torch_parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* sc = scale.data() + (row / height) * c;
      const float* sh = shift.data() + (row / height) * c;
      float* p = data + row * width * c;
      c10::BFloat16* q = copied ? copy_data + row * width * c : nullptr;
#if SEGKIT_GROUP_NORM_AVX512
      if (vectors) {
        apply_row_avx512(p, q, sc, sh, width, c, relu);
        continue;
      }
#endif
      apply_row(p, q, sc, sh, width, c, relu);
    }
  });
  return copy;
}

}  // namespace segkit::kernels
