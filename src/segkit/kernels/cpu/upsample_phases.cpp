#include "kernels/cpu/upsample_phases.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>

#include <string>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "segkit/error.h"

namespace segkit::kernels {

namespace {

constexpr const char* kName = "add_upsampled_phases";

// Channels-last rows: every output pixel is C contiguous values from one phase pixel and one
// term pixel.
template <typename T, typename U>
void add_rows(const at::Tensor& phases, const at::Tensor& term, const at::Tensor& out) {
  const int64_t batch = out.size(0), c = out.size(1), height = out.size(2), width = out.size(3);
  const int64_t ph = phases.size(2), pw = phases.size(3);
  const T* y = phases.data_ptr<T>();
  const U* t = term.data_ptr<U>();
  float* o = out.data_ptr<float>();
  const bool shared_term = term.size(0) == 1;
  torch_parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / height, r = row % height, a = r % 2, i = r / 2;
      const T* y_row = y + ((n * ph + i + a) * pw) * 4 * c;
      const U* t_row = t + ((shared_term ? 0 : n) * height + r) * width * c;
      float* o_row = o + row * width * c;
      for (int64_t s = 0; s < width; ++s) {
        const int64_t b = s % 2, j = s / 2;
        const T* src = y_row + (j + b) * 4 * c + (2 * a + b) * c;
        const U* add = t_row + s * c;
        float* dst = o_row + s * c;
        for (int64_t k = 0; k < c; ++k) dst[k] = static_cast<float>(src[k]) + static_cast<float>(add[k]);
      }
    }
  });
}

}  // namespace

at::Tensor add_upsampled_phases(const at::Tensor& phases, const at::Tensor& term) {
  if (!phases.defined() || !term.defined() || phases.dim() != 4 || term.dim() != 4 || phases.size(1) % 4 != 0)
    fail(kName, "phases must be B × 4C × h × w and the term 4-D");
  const int64_t batch = phases.size(0), c = phases.size(1) / 4, height = term.size(2), width = term.size(3);
  const int64_t h = phases.size(2) - 1, w = phases.size(3) - 1;
  if (term.size(1) != c || (term.size(0) != batch && term.size(0) != 1) || height != 2 * h || width != 2 * w ||
      h < 1 || w < 1)
    fail(kName, "the term does not match the phases");
  auto float_or_bf16 = [](const at::Tensor& t) {
    return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16;
  };
  if (!float_or_bf16(term)) fail(kName, "the term must be float32 or bfloat16");
  const auto layout = at::MemoryFormat::ChannelsLast;
  const at::TensorOptions out_options = term.options().dtype(at::kFloat).memory_format(layout);
  if (hand_written_path({&phases, &term}) && float_or_bf16(phases)) {
    const at::Tensor y = phases.contiguous(layout), t = term.contiguous(layout);
    at::Tensor out = at::empty({batch, c, height, width}, out_options);
    const bool y_float = y.scalar_type() == at::kFloat, t_float = t.scalar_type() == at::kFloat;
    if (y_float && t_float)
      add_rows<float, float>(y, t, out);
    else if (y_float)
      add_rows<float, c10::BFloat16>(y, t, out);
    else if (t_float)
      add_rows<c10::BFloat16, float>(y, t, out);
    else
      add_rows<c10::BFloat16, c10::BFloat16>(y, t, out);
    return out;
  }
  // Any device: one strided sum per phase.
  const at::Tensor y = phases.to(at::kFloat);
  at::Tensor out = at::empty({batch, c, height, width}, out_options);
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t phase = 2 * a + b;
      at::Tensor dst = out.slice(2, a, height, 2).slice(3, b, width, 2);
      at::add_out(dst, y.slice(1, phase * c, (phase + 1) * c).slice(2, a, a + h).slice(3, b, b + w),
                  term.slice(2, a, height, 2).slice(3, b, width, 2));
    }
  return out;
}

}  // namespace segkit::kernels
