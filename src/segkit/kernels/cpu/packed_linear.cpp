#include "kernels/cpu/packed_linear.h"

#include <ATen/ops/empty.h>

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "kernels/cpu/onednn.h"
#include "segkit/error.h"

namespace segkit::kernels {

#if SEGKIT_HAVE_DNNL

namespace {

using Type = dnnl::memory::data_type;
using Tag = dnnl::memory::format_tag;

const dnnl::engine& cpu() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// x (rows×K) · W (K×N, in `weights`' layout) + bias → rows×N, all bfloat16. The scratchpad is
// the caller's, so that one primitive can run from several threads at once.
dnnl::matmul::primitive_desc describe(int64_t rows, int64_t K, int64_t N, bool bias, const dnnl::memory::desc& weights) {
  const dnnl::memory::desc src({rows, K}, Type::bf16, Tag::ab), dst({rows, N}, Type::bf16, Tag::ab);
  const dnnl::memory::desc b = bias ? dnnl::memory::desc({1, N}, Type::bf16, Tag::ab) : dnnl::memory::desc();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(cpu(), src, weights, b, dst, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, b, dst), attr, cpu());
#endif
}

// oneDNN's reference kernels are far slower than ATen's path.
bool fast(const dnnl::matmul::primitive_desc& pd) { return std::string(pd.impl_info_str()).find("ref") == std::string::npos; }

}  // namespace

struct PackedLinear::State {
  int64_t K = 0, N = 0;
  dnnl::memory::desc layout;  // of the packed weights
  at::Tensor weights;         // bytes
  at::Tensor bias;            // bfloat16, or undefined
  struct Primitive {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul matmul;
  };
  std::mutex mutex;  // guards by_rows
  std::map<int64_t, Primitive> by_rows;
};

std::shared_ptr<const PackedLinear> PackedLinear::pack(const at::Tensor& weight, const at::Tensor& bias, int64_t rows) {
  if (!weight.defined() || weight.dim() != 2 || weight.scalar_type() != at::kBFloat16 || !hand_written_path(weight.device()) ||
      rows <= 0 || (bias.defined() && (bias.scalar_type() != at::kBFloat16 || bias.numel() != weight.size(0))))
    return nullptr;
  auto state = std::make_unique<State>();
  state->N = weight.size(0);
  state->K = weight.size(1);
  try {
    const auto pd = describe(rows, state->K, state->N, bias.defined(), {{state->K, state->N}, Type::bf16, Tag::any});
    if (!fast(pd)) return nullptr;
    state->layout = pd.weights_desc();
    // weight is N×K row-major: the K×N matrix in column-major order ("ba").
    const at::Tensor plain = weight.contiguous();
    dnnl::memory from({{state->K, state->N}, Type::bf16, Tag::ba}, cpu(), plain.data_ptr());
    state->weights = at::empty({static_cast<int64_t>(state->layout.get_size())}, at::kByte);
    dnnl::memory to(state->layout, cpu(), state->weights.data_ptr());
    dnnl::stream stream(cpu());
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    state->by_rows.emplace(rows, State::Primitive{pd, dnnl::matmul(pd)});
  } catch (const dnnl::error&) {
    return nullptr;  // no bfloat16 matmul here: the caller's plain path runs
  }
  if (bias.defined()) state->bias = bias.contiguous();
  return std::shared_ptr<const PackedLinear>(new PackedLinear(std::move(state)));
}

at::Tensor PackedLinear::operator()(const at::Tensor& x_in) const {
  State& s = *state_;
  require_cpu("PackedLinear", {&x_in});
  if (!x_in.defined() || x_in.scalar_type() != at::kBFloat16 || x_in.dim() == 0 || x_in.size(-1) != s.K)
    fail("PackedLinear", "input is not a bfloat16 tensor with " + std::to_string(s.K) + " features");
  const at::Tensor x = x_in.contiguous();
  const int64_t rows = x.numel() / s.K;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = s.N;
  at::Tensor y = at::empty(sizes, x.options());
  if (rows == 0) return y;
  State::Primitive p;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_rows.find(rows);
    if (it == s.by_rows.end()) {
      try {
        const auto pd = describe(rows, s.K, s.N, s.bias.defined(), s.layout);
        it = s.by_rows.emplace(rows, State::Primitive{pd, dnnl::matmul(pd)}).first;
      } catch (const dnnl::error& e) {
        fail("PackedLinear", "oneDNN has no matmul for " + std::to_string(rows) + " rows: " + e.what());
      }
    }
    p = it->second;
  }
  const dnnl::matmul::primitive_desc& pd = p.pd;
  // One byte more, so that the scratchpad's pointer is never null.
  const at::Tensor scratch = at::empty({static_cast<int64_t>(pd.scratchpad_desc().get_size()) + 1}, at::kByte);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(pd.src_desc(), cpu(), x.data_ptr())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(s.layout, cpu(), s.weights.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory(pd.dst_desc(), cpu(), y.data_ptr())},
      {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), cpu(), scratch.data_ptr())}};
  if (s.bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.bias_desc(), cpu(), s.bias.data_ptr()));
  dnnl::stream stream(cpu());
  p.matmul.execute(stream, args);
  stream.wait();
  return y;
}

#else  // without oneDNN nothing is packed

struct PackedLinear::State {
  int64_t K = 0, N = 0;
};

std::shared_ptr<const PackedLinear> PackedLinear::pack(const at::Tensor&, const at::Tensor&, int64_t) { return nullptr; }

at::Tensor PackedLinear::operator()(const at::Tensor&) const { fail("PackedLinear", "segkit was built without oneDNN"); }

#endif

PackedLinear::PackedLinear(std::unique_ptr<State> state) : state_(std::move(state)) {}
PackedLinear::~PackedLinear() = default;
int64_t PackedLinear::in_features() const { return state_->K; }
int64_t PackedLinear::out_features() const { return state_->N; }

}  // namespace segkit::kernels
