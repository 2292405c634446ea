#include "kernels/cpu/winograd_conv.h"

#include <ATen/ops/empty.h>

#include <algorithm>
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

namespace {
constexpr const char* kName = "WinogradConv3x3";
}  // namespace

#if SEGKIT_HAVE_DNNL

namespace {

using Type = dnnl::memory::data_type;
using Tag = dnnl::memory::format_tag;
// A band's problem: batch, input rows (with the neighbours' rows it reads), width, and whether
// it pads a row of zeros above and below (at the map's top and bottom).
using Shape = std::tuple<int64_t, int64_t, int64_t, bool, bool>;

// Output rows per band: oneDNN's Winograd kernel transforms its whole input at once (a 300 MB
// scratchpad for 256 channels at 200×304), so the map goes through it a band of rows at a time
// (as fast as whole, measured).
constexpr int64_t kBandRows = 32;  // a 50 MB scratchpad for 256 channels, 304 wide

const dnnl::engine& cpu() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The Winograd convolution of one input shape, on 16-channel blocks (nChw16c) in and out; throws
// dnnl::error where oneDNN has none.
dnnl::convolution_forward::primitive_desc describe(const Shape& shape, int64_t C, int64_t O, bool bias) {
  const auto [B, H, W, pad_top, pad_bottom] = shape;
  const int64_t out_rows = H + pad_top + pad_bottom - 2;
  const dnnl::memory::desc src({B, C, H, W}, Type::f32, Tag::nChw16c);
  const dnnl::memory::desc dst({B, O, out_rows, W}, Type::f32, Tag::nChw16c);
  const dnnl::memory::desc weights({O, C, 3, 3}, Type::f32, Tag::any);
  const dnnl::memory::desc b = bias ? dnnl::memory::desc({O}, Type::f32, Tag::x) : dnnl::memory::desc();
  const dnnl::memory::dims stride{1, 1}, padding_l{pad_top ? 1 : 0, 1}, padding_r{pad_bottom ? 1 : 0, 1};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::convolution_forward::primitive_desc(cpu(), dnnl::prop_kind::forward_inference,
                                                   dnnl::algorithm::convolution_winograd, src, weights, b, dst, stride,
                                                   padding_l, padding_r, attr);
#else
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd,
                                          src, weights, b, dst, stride, padding_l, padding_r);
  return dnnl::convolution_forward::primitive_desc(d, attr, cpu());
#endif
}

// A plain tensor's layout as oneDNN reads it: its sizes and strides.
dnnl::memory::desc plain(const at::Tensor& t) {
  return dnnl::memory::desc(t.sizes().vec(), Type::f32, t.strides().vec());
}

void run(dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  dnnl::stream stream(cpu());
  p.execute(stream, args);
  stream.wait();
}

}  // namespace

struct WinogradConv3x3::State {
  int64_t C = 0, O = 0;
  at::Tensor weight, bias;  // plain float32 (bias may be undefined)
  struct Prepared {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward conv;
    at::Tensor weights;  // transformed, in pd's layout (bytes)
  };
  std::mutex mutex;                                     // guards by_shape and transformed
  std::map<Shape, std::shared_ptr<Prepared>> by_shape;  // null: no kernel for that shape
  // The weights in each layout some shape's kernel reads: the bands of a map mostly share one.
  std::vector<std::pair<dnnl::memory::desc, at::Tensor>> transformed;

  at::Tensor transformed_weights(const dnnl::memory::desc& layout) {
    for (const auto& [known, bytes] : transformed)
      if (known == layout) return bytes;
    at::Tensor bytes = at::empty({static_cast<int64_t>(layout.get_size())}, at::kByte);
    dnnl::memory from({{O, C, 3, 3}, Type::f32, Tag::oihw}, cpu(), weight.data_ptr());
    dnnl::memory to(layout, cpu(), bytes.data_ptr());
    dnnl::reorder reorder(from, to);
    run(reorder, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
    transformed.emplace_back(layout, bytes);
    return bytes;
  }

  std::shared_ptr<Prepared> prepared(const Shape& shape) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = by_shape.find(shape);
    if (it != by_shape.end()) return it->second;
    std::shared_ptr<Prepared> p;
    try {
      const auto pd = describe(shape, C, O, bias.defined());
      if (std::string(pd.impl_info_str()).find("wino") != std::string::npos)
        p = std::make_shared<Prepared>(
            Prepared{pd, dnnl::convolution_forward(pd), transformed_weights(pd.weights_desc())});
    } catch (const dnnl::error&) {
      p = nullptr;  // no Winograd kernel here
    }
    by_shape.emplace(shape, p);
    return p;
  }
};

std::shared_ptr<const WinogradConv3x3> WinogradConv3x3::prepare(const at::Tensor& weight, const at::Tensor& bias) {
  if (!weight.defined() || weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3 ||
      weight.scalar_type() != at::kFloat || !hand_written_path(weight.device()) ||
      (bias.defined() && (bias.scalar_type() != at::kFloat || bias.numel() != weight.size(0))))
    return nullptr;
  auto state = std::make_unique<State>();
  state->O = weight.size(0);
  state->C = weight.size(1);
  state->weight = weight.contiguous();
  if (bias.defined()) state->bias = bias.contiguous();
  // A kernel for a small map of these channels, or none at all.
  if (!state->prepared({1, 32, 32, true, true})) return nullptr;
  return std::shared_ptr<const WinogradConv3x3>(new WinogradConv3x3(std::move(state)));
}

namespace {

// The bands of output rows [begin, end) of a map of `height` rows: equal, in whole 4-row tiles.
std::vector<std::pair<int64_t, int64_t>> bands_of(int64_t height) {
  const int64_t count = (height + kBandRows - 1) / kBandRows;
  const int64_t rows = ((height + count - 1) / count + 3) / 4 * 4;
  std::vector<std::pair<int64_t, int64_t>> bands;
  for (int64_t r = 0; r < height; r += rows) bands.emplace_back(r, std::min(height, r + rows));
  return bands;
}

// A buffer of at least `bytes`, grown as needed: the bands of one call share their blocked
// input and output and the kernel's scratchpad. A band's buffers stay under the 64 MB below
// which the models' heap keeps freed memory (core/heap_reuse), so that the next call finds them
// mapped: faulting a whole map's 300 MB scratchpad in every call cost what the kernel saved.
void* at_least(at::Tensor& buffer, size_t bytes) {
  if (!buffer.defined() || static_cast<size_t>(buffer.numel()) < bytes)
    buffer = at::empty({static_cast<int64_t>(bytes) + 1}, at::kByte);  // never empty: a null pointer
  return buffer.data_ptr();
}

// Band [r0, r1)'s problem: the rows it reads and the zero rows it pads.
Shape band_shape(int64_t batch, int64_t height, int64_t width, int64_t r0, int64_t r1) {
  return {batch, std::min(height, r1 + 1) - std::max<int64_t>(0, r0 - 1), width, r0 == 0, r1 == height};
}

}  // namespace

bool WinogradConv3x3::supports(const at::Tensor& x) const {
  if (!x.defined() || x.dim() != 4 || x.scalar_type() != at::kFloat || !hand_written_path({&x}) ||
      x.size(1) != state_->C || x.numel() == 0)
    return false;
  for (const auto& [r0, r1] : bands_of(x.size(2)))
    if (!state_->prepared(band_shape(x.size(0), x.size(2), x.size(3), r0, r1))) return false;
  return true;
}

at::Tensor WinogradConv3x3::operator()(const at::Tensor& x) const {
  require_cpu(kName, {&x});
  if (!supports(x))
    fail(kName, "no Winograd kernel for a float32 input of " + std::to_string(x.dim()) + " dimensions with " +
                    (x.dim() == 4 ? std::to_string(x.size(1)) : std::string("?")) + " channels (expects " +
                    std::to_string(state_->C) + ")");
  State& s = *state_;
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  at::Tensor out = at::empty({B, H, W, s.O}, x.options()).permute({0, 3, 1, 2});  // channels-last
  at::Tensor src, dst, scratch;  // this call's, shared by its bands
  for (const auto& [r0, r1] : bands_of(H)) {
    const std::shared_ptr<State::Prepared> p = s.prepared(band_shape(B, H, W, r0, r1));
    const auto& pd = p->pd;
    const int64_t first = std::max<int64_t>(0, r0 - 1), last = std::min(H, r1 + 1);
    const at::Tensor band_in = x.narrow(2, first, last - first), band_out = out.narrow(2, r0, r1 - r0);
    dnnl::memory in(plain(band_in), cpu(), band_in.data_ptr());
    dnnl::memory blocked_in(pd.src_desc(), cpu(), at_least(src, pd.src_desc().get_size()));
    dnnl::memory blocked_out(pd.dst_desc(), cpu(), at_least(dst, pd.dst_desc().get_size()));
    dnnl::memory result(plain(band_out), cpu(), band_out.data_ptr());
    dnnl::reorder to_blocks(in, blocked_in), from_blocks(blocked_out, result);
    run(to_blocks, {{DNNL_ARG_FROM, in}, {DNNL_ARG_TO, blocked_in}});
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, blocked_in},
        {DNNL_ARG_WEIGHTS, dnnl::memory(pd.weights_desc(), cpu(), p->weights.data_ptr())},
        {DNNL_ARG_DST, blocked_out},
        {DNNL_ARG_SCRATCHPAD,
         dnnl::memory(pd.scratchpad_desc(), cpu(), at_least(scratch, pd.scratchpad_desc().get_size()))}};
    if (s.bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.bias_desc(), cpu(), s.bias.data_ptr()));
    dnnl::convolution_forward conv = p->conv;
    run(conv, args);
    run(from_blocks, {{DNNL_ARG_FROM, blocked_out}, {DNNL_ARG_TO, result}});
  }
  return out;
}

#else  // without oneDNN there is no Winograd kernel

struct WinogradConv3x3::State {
  int64_t C = 0;
};

std::shared_ptr<const WinogradConv3x3> WinogradConv3x3::prepare(const at::Tensor&, const at::Tensor&) {
  return nullptr;
}
bool WinogradConv3x3::supports(const at::Tensor&) const { return false; }
at::Tensor WinogradConv3x3::operator()(const at::Tensor&) const { fail(kName, "segkit was built without oneDNN"); }

#endif

WinogradConv3x3::WinogradConv3x3(std::unique_ptr<State> state) : state_(std::move(state)) {}
WinogradConv3x3::~WinogradConv3x3() = default;

}  // namespace segkit::kernels
