#include "kernels/cpu/attention_fused.h"

#include <ATen/ops/zeros.h>

#include "core/cpu_features.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_fused_problem.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

namespace segkit::kernels {

namespace {

bool cpu_has(at::ScalarType type) {
#if SEGKIT_FUSED_ATTENTION_KERNELS
  return type == at::kFloat ? core::cpu_has_avx512() : type == at::kBFloat16 && core::cpu_has_avx512_bf16();
#else
  (void)type;
  return false;
#endif
}

// A tensor's 32-bit units (one float32, or a pair of bfloat16).
const uint32_t* units(const at::Tensor& t) { return static_cast<const uint32_t*>(t.data_ptr()); }

}  // namespace

bool fused_attention_supported(at::ScalarType type, int64_t head_dim, const at::Device& device) {
  return hand_written_path(device) && cpu_has(type) && head_dim > 0 && head_dim % 16 == 0 && head_dim <= 256;
}

void fused_attention(const at::Tensor& qkv_in, const at::Tensor& qkv_bias, int64_t heads, int64_t window,
                     const at::Tensor& rel_pos_h, const at::Tensor& rel_pos_w, double scale, const at::Tensor& out) {
  require_cpu("fused_attention", {&qkv_in, &qkv_bias, &rel_pos_h, &rel_pos_w, &out});
  const bool shapes = qkv_in.defined() && qkv_in.dim() == 4 && heads > 0 && qkv_in.size(3) % (3 * heads) == 0 &&
                      out.defined() && out.dim() == 4 && out.size(0) == qkv_in.size(0) && out.size(1) == qkv_in.size(1) &&
                      out.size(2) == qkv_in.size(2) && out.size(3) * 3 == qkv_in.size(3) && window >= 0;
  const at::ScalarType type = shapes ? qkv_in.scalar_type() : at::kFloat;
  const bool types = shapes && out.scalar_type() == type && qkv_in.stride(3) == 1 && out.stride(3) == 1 &&
                     (!qkv_bias.defined() || (qkv_bias.scalar_type() == type && qkv_bias.numel() == qkv_in.size(3)));
  if (!types || !fused_attention_supported(type, qkv_in.size(3) / (3 * heads), qkv_in.device()))
    fail("fused_attention", "qkv, its bias or out of an unexpected shape, type or layout, or no kernel for this CPU");
  // Rows are read in 32-bit units: in bfloat16 they must start at even elements.
  const int64_t per_unit = type == at::kBFloat16 ? 2 : 1;
  auto whole_units = [&](const at::Tensor& t) {
    return reinterpret_cast<uintptr_t>(t.data_ptr()) % 4 == 0 && t.stride(0) % per_unit == 0 &&
           t.stride(1) % per_unit == 0 && t.stride(2) % per_unit == 0;
  };
  const at::Tensor qkv = whole_units(qkv_in) ? qkv_in : qkv_in.contiguous();
  if (!whole_units(out)) fail("fused_attention", "out does not start its rows at whole 32-bit units");
  const int64_t H = qkv.size(1), W = qkv.size(2);
  fused::Problem pr{};
  pr.d = qkv.size(3) / (3 * heads);
  pr.scale = static_cast<float>(scale);
  fused::Tokens& t = pr.tokens;
  t.kh = window > 0 ? window : H;
  t.kw = window > 0 ? window : W;
  t.units = pr.d / per_unit;
  const at::Tensor pad = qkv_bias.defined() ? qkv_bias.contiguous() : at::zeros({qkv.size(3)}, qkv.options());
  t.qkv = units(qkv);
  t.sb = qkv.stride(0) / per_unit, t.sy = qkv.stride(1) / per_unit, t.sx = qkv.stride(2) / per_unit;
  t.out = static_cast<uint32_t*>(out.data_ptr());
  t.ob = out.stride(0) / per_unit, t.oy = out.stride(1) / per_unit, t.ox = out.stride(2) / per_unit;
  t.pad = units(pad);
  t.H = H, t.W = W, t.heads = heads;
  t.windows_y = (H + t.kh - 1) / t.kh;
  t.windows_x = (W + t.kw - 1) / t.kw;
  pr.groups = qkv.size(0) * t.windows_y * t.windows_x * heads;
  if (pr.groups == 0) return;

  at::Tensor table_h, table_w;
  if (rel_pos_h.defined() || rel_pos_w.defined()) {
    auto table = [&](const at::Tensor& r, int64_t n) {
      return r.defined() && r.scalar_type() == type && r.dim() == 3 && r.size(0) == n && r.size(1) == n &&
             r.size(2) == pr.d;
    };
    if (!table(rel_pos_h, t.kh) || !table(rel_pos_w, t.kw))
      fail("fused_attention", "relative-position tables of an unexpected shape or type");
    table_h = rel_pos_h.contiguous();
    table_w = rel_pos_w.contiguous();
    pr.rel_pos_h = units(table_h);
    pr.rel_pos_w = units(table_w);
  }
#if SEGKIT_FUSED_ATTENTION_KERNELS  // otherwise fused_attention_supported refused above
  if (type == at::kBFloat16) fused::attend_bf16(pr);
  else fused::attend_fp32(pr);
#endif
}

}  // namespace segkit::kernels
