#include "kernels/cpu/packed_linear.h"

#include <ATen/ops/empty.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
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

// What one primitive computes: the row count, the activation, whether it adds into a float32
// output (the residual sum), and whether it writes float32 whatever the weights' type.
struct Variant {
  int64_t rows;
  LinearActivation activation;
  bool accumulate;
  bool float_output = false;
  bool float32_dst() const { return accumulate || float_output; }
};

// A primitive serves every packed layer of the same shape, type and weights' layout (the layout
// follows from the row count it was packed for), made once per process: oneDNN's kernels and
// descriptors are small lasting allocations, and made anew in each layer's first run they
// fragmented the heap between its large temporaries (a float32 Mask2Former pass peaked 100 MB
// higher with a primitive per layer).
struct PrimitiveKey {
  int64_t K, N, packed_rows, rows;
  at::ScalarType type;
  bool bias;
  LinearActivation activation;
  bool accumulate, float_output;
  bool operator<(const PrimitiveKey& o) const {
    return std::tie(K, N, packed_rows, rows, type, bias, activation, accumulate, float_output) <
           std::tie(o.K, o.N, o.packed_rows, o.rows, o.type, o.bias, o.activation, o.accumulate, o.float_output);
  }
};

Type type_of(at::ScalarType t) { return t == at::kBFloat16 ? Type::bf16 : Type::f32; }

// x (rows×K) · W (K×N, in `weights`' layout) + bias → rows×N. The scratchpad is the caller's,
// so that one primitive can run from several threads at once.
dnnl::matmul::primitive_desc describe(const Variant& v, int64_t K, int64_t N, Type type, bool bias,
                                      const dnnl::memory::desc& weights) {
  const dnnl::memory::desc src({v.rows, K}, type, Tag::ab), dst({v.rows, N}, v.float32_dst() ? Type::f32 : type, Tag::ab);
  const dnnl::memory::desc b = bias ? dnnl::memory::desc({1, N}, type, Tag::ab) : dnnl::memory::desc();
  dnnl::post_ops ops;
  if (v.accumulate) ops.append_sum(1.0f);
  if (v.activation != LinearActivation::kNone) {
    const auto algorithm =
        v.activation == LinearActivation::kRelu ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_gelu_erf;
#if DNNL_VERSION_MAJOR >= 3
    ops.append_eltwise(algorithm, 0.0f, 0.0f);
#else
    ops.append_eltwise(1.0f, algorithm, 0.0f, 0.0f);
#endif
  }
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(ops);
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(cpu(), src, weights, b, dst, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, b, dst), attr, cpu());
#endif
}

// oneDNN's reference kernels are far slower than ATen's path.
bool fast(const dnnl::matmul::primitive_desc& pd) { return std::string(pd.impl_info_str()).find("ref") == std::string::npos; }

constexpr size_t kMaxCached = 4096;  // many image sizes: start over rather than grow for ever

struct Primitive {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul matmul;
};

}  // namespace

struct PackedLinear::State {
  int64_t K = 0, N = 0;
  int64_t packed_rows = 0;  // the row count the layout was chosen for
  at::ScalarType type = at::kFloat;
  dnnl::memory::desc layout;  // of the packed weights
  at::Tensor weights;         // bytes
  at::Tensor bias;            // of the weights' type, or undefined

  PrimitiveKey key(const Variant& v) const {
    return {K, N, packed_rows, v.rows, type, bias.defined(), v.activation, v.accumulate, v.float_output};
  }

  Primitive primitive(const PrimitiveKey& key, const Variant& v) const {
    static std::mutex mutex;
    static auto& cache = *new std::map<PrimitiveKey, Primitive>;  // never destroyed: no oneDNN calls at exit
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it == cache.end()) {
      if (cache.size() >= kMaxCached) cache.clear();
      try {
        const auto pd = describe(v, K, N, type_of(type), bias.defined(), layout);
        it = cache.emplace(key, Primitive{pd, dnnl::matmul(pd)}).first;
      } catch (const dnnl::error& e) {
        fail("PackedLinear", "oneDNN has no matmul for " + std::to_string(v.rows) + " rows: " + e.what());
      }
    }
    return it->second;
  }

  // y (rows×N, contiguous) from x (rows×K, contiguous) with the primitive for v.
  void run(const Variant& v, const at::Tensor& x, const at::Tensor& y) const {
    const Primitive p = primitive(key(v), v);
    const dnnl::matmul::primitive_desc& pd = p.pd;
    // One byte more, so that the scratchpad's pointer is never null.
    const at::Tensor scratch = at::empty({static_cast<int64_t>(pd.scratchpad_desc().get_size()) + 1}, at::kByte);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dnnl::memory(pd.src_desc(), cpu(), x.data_ptr())},
        {DNNL_ARG_WEIGHTS, dnnl::memory(layout, cpu(), weights.data_ptr())},
        {DNNL_ARG_DST, dnnl::memory(pd.dst_desc(), cpu(), y.data_ptr())},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), cpu(), scratch.data_ptr())}};
    if (bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.bias_desc(), cpu(), bias.data_ptr()));
    dnnl::stream stream(cpu());
    p.matmul.execute(stream, args);
    stream.wait();
  }

  at::Tensor input(const at::Tensor& x) const {
    require_cpu("PackedLinear", {&x});
    if (!x.defined() || x.scalar_type() != type || x.dim() == 0 || x.size(-1) != K)
      fail("PackedLinear", std::string("input is not a ") + (type == at::kFloat ? "float32" : "bfloat16") +
                               " tensor with " + std::to_string(K) + " features");
    return x.contiguous();
  }
};

std::shared_ptr<const PackedLinear> PackedLinear::pack(const at::Tensor& weight, const at::Tensor& bias, int64_t rows,
                                                      at::ScalarType type) {
  if (!weight.defined() || weight.dim() != 2 || !hand_written_path(weight.device()) || rows <= 0)
    return nullptr;
  const at::ScalarType given = weight.scalar_type();
  if (type == at::ScalarType::Undefined) type = given;
  auto float_or_bfloat16 = [](at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16; };
  if (!float_or_bfloat16(given) || !float_or_bfloat16(type) ||
      (bias.defined() && (bias.scalar_type() != given || bias.numel() != weight.size(0))))
    return nullptr;
  auto state = std::make_unique<State>();
  state->N = weight.size(0);
  state->K = weight.size(1);
  state->type = type;
  state->packed_rows = rows;
  try {
    const Variant v{rows, LinearActivation::kNone, false};
    const auto pd = describe(v, state->K, state->N, type_of(type), bias.defined(), {{state->K, state->N}, type_of(type), Tag::any});
    if (!fast(pd)) return nullptr;
    state->layout = pd.weights_desc();
    // weight is N×K row-major: the K×N matrix in column-major order ("ba"), converted to the
    // products' type by the same reorder.
    const at::Tensor plain = weight.contiguous();
    dnnl::memory from({{state->K, state->N}, type_of(given), Tag::ba}, cpu(), plain.data_ptr());
    state->weights = at::empty({static_cast<int64_t>(state->layout.get_size())}, at::kByte);
    dnnl::memory to(state->layout, cpu(), state->weights.data_ptr());
    dnnl::stream stream(cpu());
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
  } catch (const dnnl::error&) {
    return nullptr;  // no matmul of this type here: the caller's plain path runs
  }
  if (bias.defined()) state->bias = bias.to(type).contiguous();
  return std::shared_ptr<const PackedLinear>(new PackedLinear(std::move(state)));
}

at::Tensor PackedLinear::operator()(const at::Tensor& x_in, LinearActivation activation, at::ScalarType out) const {
  const State& s = *state_;
  const at::Tensor x = s.input(x_in);
  const at::ScalarType out_type = out == at::ScalarType::Undefined ? s.type : out;
  if (out_type != s.type && out_type != at::kFloat)
    fail("PackedLinear", std::string("writes its weights' type or float32, not ") + c10::toString(out_type));
  const int64_t rows = x.numel() / s.K;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = s.N;
  at::Tensor y = at::empty(sizes, x.options().dtype(out_type));
  if (rows > 0) s.run({rows, activation, false, out_type != s.type}, x, y);
  return y;
}

void PackedLinear::accumulate(const at::Tensor& y, const at::Tensor& x_in) const {
  const State& s = *state_;
  const at::Tensor x = s.input(x_in);
  const int64_t rows = x.numel() / s.K;
  require_cpu("PackedLinear", {&y});
  if (!y.defined() || y.scalar_type() != at::kFloat || y.dim() == 0 || y.size(-1) != s.N || y.numel() != rows * s.N)
    fail("PackedLinear", "the sum is not a float32 tensor of " + std::to_string(rows) + " rows of " +
                             std::to_string(s.N) + " features");
  if (rows == 0) return;
  if (!y.is_contiguous()) {
    y.add_((*this)(x));
    return;
  }
  s.run({rows, LinearActivation::kNone, true}, x, y);
}

#else  // without oneDNN nothing is packed

struct PackedLinear::State {
  int64_t K = 0, N = 0;
  at::ScalarType type = at::kFloat;
};

std::shared_ptr<const PackedLinear> PackedLinear::pack(const at::Tensor&, const at::Tensor&, int64_t, at::ScalarType) {
  return nullptr;
}

at::Tensor PackedLinear::operator()(const at::Tensor&, LinearActivation, at::ScalarType) const {
  fail("PackedLinear", "segkit was built without oneDNN");
}
void PackedLinear::accumulate(const at::Tensor&, const at::Tensor&) const {
  fail("PackedLinear", "segkit was built without oneDNN");
}

#endif

PackedLinear::PackedLinear(std::unique_ptr<State> state) : state_(std::move(state)) {}
PackedLinear::~PackedLinear() = default;
int64_t PackedLinear::in_features() const { return state_->K; }
int64_t PackedLinear::out_features() const { return state_->N; }
at::ScalarType PackedLinear::type() const { return state_->type; }

}  // namespace segkit::kernels
