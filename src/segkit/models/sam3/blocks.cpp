#include "models/sam3/blocks.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_fused.h"
#include "kernels/cpu/matmul.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// Score rows per product: keeps one block of scores near 16 MB even for the real encoder's
// 5184 × 5184 self-attention.
constexpr int64_t kScoreBlock = int64_t{1} << 22;

}  // namespace

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "missing";
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? " × " : "") + std::to_string(t.size(i));
  return s.empty() ? "a scalar" : s;
}

void EncoderLayer::use_bfloat16(int64_t rows) {
  self_attn.use_bfloat16(rows);
  cross_attn.use_bfloat16(rows);
  mlp.use_bfloat16(rows);
}

EncoderLayer EncoderLayer::load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads,
                                int64_t hidden, DetrActivation act) {
  constexpr double eps = 1e-5;  // built without an eps: PyTorch's default, not the config's 1e-6
  EncoderLayer l;
  l.norm1 = nn::load_layer_norm(w, prefix + ".layer_norm1", width, eps);
  l.norm2 = nn::load_layer_norm(w, prefix + ".layer_norm2", width, eps);
  l.norm3 = nn::load_layer_norm(w, prefix + ".layer_norm3", width, eps);
  l.self_attn = Attention::load(w, prefix + ".self_attn", width, heads);
  l.cross_attn = Attention::load(w, prefix + ".cross_attn", width, heads);
  l.mlp = FeedForward::load(w, prefix + ".mlp", width, hidden, act);
  return l;
}

void check_feature_map(const std::string& context, const at::Tensor& features, const at::Tensor& pos, int64_t width) {
  if (!features.defined() || features.dim() != 4 || features.size(1) != width)
    fail(context, "the image features must be batch × " + std::to_string(width) + " × height × width, not " +
                      shape_text(features));
  const int64_t b = features.size(0);
  if (!pos.defined() || pos.dim() != 4 || (pos.size(0) != b && pos.size(0) != 1) || pos.size(1) != width ||
      pos.size(2) != features.size(2) || pos.size(3) != features.size(3))
    fail(context, "the position encoding is " + shape_text(pos) + " but the features are " + shape_text(features));
}

Attention Attention::load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads) {
  Attention a;
  a.q = nn::load_linear(w, prefix + ".q_proj", width, width);
  a.k = nn::load_linear(w, prefix + ".k_proj", width, width);
  a.v = nn::load_linear(w, prefix + ".v_proj", width, width);
  a.o = nn::load_linear(w, prefix + ".o_proj", width, width);
  a.heads = heads;
  return a;
}

void Attention::use_bfloat16(int64_t rows) {
  for (nn::Linear* l : {&q, &k, &v, &o}) l->use_bfloat16(rows);
  compute = at::kBFloat16;
}

at::Tensor Attention::attend(const at::Tensor& query_in, const at::Tensor& key_in, const at::Tensor& value_in,
                             const at::Tensor& bias) const {
  const int64_t b = query_in.size(0), lq = query_in.size(1), lk = key_in.size(1), c = query_in.size(2), dh = c / heads;
  const bool same = query_in.is_same(key_in);
  const at::Tensor query = query_in.to(compute), key = same ? query : key_in.to(compute), value = value_in.to(compute);
  if (!bias.defined() && same && kernels::fused_attention_supported(compute, dh, query.device())) {
    // Self-attention without a mask (the DETR encoder's over every image token): the fused
    // flash-attention kernel, whose scores never exist whole; about twice as fast at 5184 tokens.
    const at::Tensor qkv = at::cat({this->q(query), this->k(key), this->v(value)}, 2);
    at::Tensor out = at::empty({b, lq, 1, c}, qkv.options());
    kernels::fused_attention(qkv.view({b, lq, 1, 3 * c}), {}, heads, 0, {}, {}, 1.0 / std::sqrt(static_cast<double>(dh)),
                             out);
    return out.view({b, lq, c});
  }
  // B × L × heads × dh views: one head of one image is a strided L × dh matrix (float32).
  const at::Tensor q = this->q(query).to(at::kFloat).view({b, lq, heads, dh});
  const at::Tensor k = this->k(key).to(at::kFloat).view({b, lk, heads, dh});
  const at::Tensor v = this->v(value).to(at::kFloat).view({b, lk, heads, dh});
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  if (!kernels::hand_written_path({&q})) {
    // Off the CPU: every image and head in one attention call, the mask or box bias (broadcast
    // over images, heads or queries as given) additive, float32 as below.
    const at::Tensor o = kernels::aten_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), bias, scale);
    return o.transpose(1, 2).reshape({b, lq, c}).to(compute);
  }
  at::Tensor out = at::empty({b, lq, heads, dh}, q.options());
  const int64_t rows = std::max<int64_t>(1, std::min(lq, kScoreBlock / std::max<int64_t>(lk, 1)));
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t h = 0; h < heads; ++h) {
      const at::Tensor qh = q[i].select(1, h), kh = k[i].select(1, h), vh = v[i].select(1, h);
      at::Tensor bh;
      if (bias.defined()) bh = bias[bias.size(0) == 1 ? 0 : i][bias.size(1) == 1 ? 0 : h];
      for (int64_t r0 = 0; r0 < lq; r0 += rows) {
        const int64_t r1 = std::min(lq, r0 + rows);
        at::Tensor scores = kernels::matmul(qh.slice(0, r0, r1), kh.t(), scale);
        if (bh.defined()) scores.add_(bh.size(0) == 1 ? bh : bh.slice(0, r0, r1));
        kernels::matmul_into(out[i].select(1, h).slice(0, r0, r1), at::softmax(scores, -1), vh);
      }
    }
  }
  return out.view({b, lq, c}).to(compute);
}

at::Tensor Attention::operator()(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                 const at::Tensor& bias) const {
  return o(attend(query, key, value, bias));
}

void Attention::accumulate(const at::Tensor& residual, const at::Tensor& query, const at::Tensor& key,
                           const at::Tensor& value, const at::Tensor& bias) const {
  o.accumulate(residual, attend(query, key, value, bias));
}

at::Tensor key_padding_bias(const at::Tensor& mask, int64_t batch, int64_t keys, const std::string& context) {
  if (!mask.defined()) return {};
  if (mask.dim() != 2 || mask.size(0) != batch || mask.size(1) != keys)
    fail(context, "the prompt mask is " + shape_text(mask) + " but the prompt has " + std::to_string(batch) +
                      " × " + std::to_string(keys) + " tokens");
  if (!at::isIntegralType(mask.scalar_type(), /*includeBool=*/true))
    fail(context, "the prompt mask must be integers or booleans");
  return at::zeros({batch, 1, 1, keys}, mask.options().dtype(at::kFloat))
      .masked_fill_(mask.eq(0).view({batch, 1, 1, keys}), std::numeric_limits<float>::lowest());
}

FeedForward FeedForward::load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t hidden,
                              DetrActivation act) {
  FeedForward f;
  f.fc1 = nn::load_linear(w, prefix + ".fc1", width, hidden);
  f.fc2 = nn::load_linear(w, prefix + ".fc2", hidden, width);
  f.act = act;
  return f;
}

void FeedForward::use_bfloat16(int64_t rows) {
  fc1.use_bfloat16(rows);
  fc2.use_bfloat16(rows);
  compute = at::kBFloat16;
}

at::Tensor FeedForward::hidden(const at::Tensor& x) const {
  if (act == DetrActivation::Gelu) return fc1.gelu(x.to(compute));
  at::Tensor y = fc1(x.to(compute));
  return y.relu_();
}

DecoderMlp DecoderMlp::load(const nn::WeightMap& w, const std::string& prefix, int64_t in, int64_t hidden,
                            int64_t out, int num_layers) {
  DecoderMlp m;
  for (int i = 0; i < num_layers; ++i)
    m.layers.push_back(nn::load_linear(w, prefix + ".layer" + std::to_string(i + 1), i == 0 ? in : hidden,
                                      i + 1 == num_layers ? out : hidden));
  return m;
}

at::Tensor DecoderMlp::operator()(const at::Tensor& x) const {
  at::Tensor y = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    y = layers[i](y);
    if (i + 1 < layers.size()) y.relu_();
  }
  return y;
}

}  // namespace segkit::sam3
