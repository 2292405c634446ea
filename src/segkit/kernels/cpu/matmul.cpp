#include "kernels/cpu/matmul.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>

#include <algorithm>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/onednn.h"

namespace segkit::kernels {

namespace {

bool is_cpu_float(const at::Tensor& t) {
  return t.defined() && hand_written_path(t.device()) && t.scalar_type() == at::kFloat;
}

#if SEGKIT_HAVE_DNNL
// A matrix as oneDNN's row-major GEMM sees it: transposed or not, with its leading dimension.
struct Operand {
  bool usable = false;
  char trans = 'N';
  int64_t ld = 0;
};

// sizes (rows, cols) with strides (sr, sc): row-major when sc == 1, a transposed row-major
// matrix when sr == 1; anything else is not usable as is.
Operand operand(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  if (sc == 1 && (rows == 1 || sr >= cols)) return {true, 'N', std::max<int64_t>(rows == 1 ? cols : sr, 1)};
  if (sr == 1 && (cols == 1 || sc >= rows)) return {true, 'T', std::max<int64_t>(cols == 1 ? rows : sc, 1)};
  return {};
}

// Element offsets of every matrix of a batch (all dimensions but the last two), row-major.
std::vector<int64_t> batch_offsets(const at::Tensor& t, int64_t count) {
  std::vector<int64_t> offsets(static_cast<size_t>(count), 0);
  const int64_t dims = t.dim() - 2;
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, offset = 0;
    for (int64_t d = dims - 1; d >= 0; --d) {
      offset += (rest % t.size(d)) * t.stride(d);
      rest /= t.size(d);
    }
    offsets[static_cast<size_t>(i)] = offset;
  }
  return offsets;
}

bool onednn_matmul(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, float beta, float alpha) {
  if (!is_cpu_float(out) || !is_cpu_float(a) || !is_cpu_float(b)) return false;
  const int64_t dims = a.dim();
  if (dims < 2 || b.dim() != dims || out.dim() != dims) return false;
  for (int64_t d = 0; d + 2 < dims; ++d)
    if (b.size(d) != a.size(d) || out.size(d) != a.size(d)) return false;
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  if (b.size(-2) != K || out.size(-2) != M || out.size(-1) != N) return false;
  int64_t count = 1;
  for (int64_t d = 0; d + 2 < dims; ++d) count *= a.size(d);
  if (count == 0 || M == 0 || N == 0) return true;
  if (K == 0) return false;  // out = beta·out: leave it to ATen
  const Operand oa = operand(M, K, a.stride(-2), a.stride(-1)), ob = operand(K, N, b.stride(-2), b.stride(-1));
  if (!oa.usable || !ob.usable || out.stride(-1) != 1 || (M > 1 && out.stride(-2) < N)) return false;
  const int64_t ldc = M > 1 ? out.stride(-2) : N;
  const std::vector<int64_t> sa = batch_offsets(a, count), sb = batch_offsets(b, count), so = batch_offsets(out, count);
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = out.data_ptr<float>();
  auto one = [&](int64_t i) {
    const size_t s = static_cast<size_t>(i);
    dnnl_sgemm(oa.trans, ob.trans, M, N, K, alpha, pa + sa[s], oa.ld, pb + sb[s], ob.ld, beta, pc + so[s], ldc);
  };
  // Many small products (windowed attention, relative positions): one thread per product.
  // Few large ones: each product uses every thread.
  if (count >= 2 * at::get_num_threads() && M * N * K < (int64_t(1) << 24)) {
    torch_parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
  return true;
}
#endif

}  // namespace

namespace {

// Whether linear's oneDNN path takes these operands: float32 on the CPU, a 2-d weight whose
// columns match x's last dimension, and a matching bias or none.
bool onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
#if SEGKIT_HAVE_DNNL
  return is_cpu_float(x) && is_cpu_float(weight) && weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1) &&
         weight.size(1) > 0 && (!bias.defined() || (is_cpu_float(bias) && bias.dim() == 1 && bias.size(0) == weight.size(0)));
#else
  (void)x, (void)weight, (void)bias;
  return false;
#endif
}

// x·weightᵀ into a fresh tensor of x's leading sizes, on the oneDNN path; with `bias`, added
// to the product (the output is filled with it first, then accumulated into).
at::Tensor onednn_linear_into_new(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor xc = x.contiguous();
  const int64_t K = weight.size(1), N = weight.size(0), M = xc.numel() / K;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = N;
  at::Tensor y = at::empty(shape, x.options());
  at::Tensor y2 = y.view({M, N});
  if (bias.defined()) y2.copy_(bias.unsqueeze(0).expand({M, N}));
  matmul_into(y2, xc.view({M, K}), weight.t(), bias.defined() ? 1.0 : 0.0, 1.0);
  return y;
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return onednn_linear(x, weight, bias) ? onednn_linear_into_new(x, weight, bias) : at::linear(x, weight, bias);
}

at::Tensor linear_gelu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!onednn_linear(x, weight, bias)) {
    at::Tensor y = linear(x, weight, bias);
    add_bias_gelu_(y, at::Tensor());
    return y;
  }
  at::Tensor y = onednn_linear_into_new(x, weight, at::Tensor());
  add_bias_gelu_(y, bias);
  return y;
}

void linear_accumulate(const at::Tensor& y, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const bool in_place = onednn_linear(x, weight, bias) && is_cpu_float(y) && y.is_contiguous() &&
                        y.dim() == x.dim() && y.sizes().slice(0, y.dim() - 1) == x.sizes().slice(0, x.dim() - 1) &&
                        y.size(-1) == weight.size(0);
  if (!in_place) {
    y.add_(linear(x, weight, bias));
    return;
  }
  const int64_t K = weight.size(1), N = weight.size(0), M = y.numel() / N;
  if (bias.defined()) y.add_(bias);
  matmul_into(y.view({M, N}), x.contiguous().view({M, K}), weight.t(), 1.0, 1.0);
}

void matmul_into(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, double beta, double alpha) {
#if SEGKIT_HAVE_DNNL
  if (onednn_matmul(out, a, b, static_cast<float>(beta), static_cast<float>(alpha))) return;
#endif
  at::Tensor product = at::matmul(a, b);
  at::Tensor o = out;
  if (beta == 0.0) o.copy_(alpha == 1.0 ? product : product.mul(alpha));
  else if (beta == 1.0) o.add_(product, alpha);  // no pass that multiplies by one
  else o.mul_(beta).add_(product, alpha);
}

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b, double alpha) {
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
  shape.back() = b.size(-1);
  at::Tensor out = at::empty(shape, a.options());
  matmul_into(out, a, b, 0.0, alpha);
  return out;
}

bool matmul_uses_onednn() { return SEGKIT_HAVE_DNNL != 0; }

bool matmul_reads_views_in_place(at::ScalarType dtype) { return SEGKIT_HAVE_DNNL != 0 && dtype == at::kFloat; }

}  // namespace segkit::kernels
