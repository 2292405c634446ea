#include "models/sam3/text_encoder.h"

#include <ATen/ops/argmax.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/matmul.h"
#include "nn/checked_layers.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// CLIP checkpoints from before transformers fixed eos_token_id pool at the largest id instead;
// transformers still takes that path whenever every row's largest id is this one.
constexpr int64_t kLegacyEos = 49407;

std::string shape_of(const at::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "×" : "") + std::to_string(t.size(i));
  return s.empty() ? "a scalar" : s;
}

}  // namespace

TextEncoder TextEncoder::load(const nn::WeightMap& w, const std::string& prefix, const TextEncoderConfig& c) {
  TextEncoder e;
  e.config_ = c;
  const int64_t d = c.hidden_size;
  const std::string t = prefix + "text_encoder.text_model.";
  e.token_embedding_ = w.get(t + "embeddings.token_embedding.weight", {c.vocab_size, d});
  e.position_embedding_ = w.get(t + "embeddings.position_embedding.weight", {c.max_position_embeddings, d});
  const int found = w.count_indexed(t + "encoder.layers.");
  if (found != c.num_layers)
    fail(w.source(), "the text encoder has " + std::to_string(found) + " layers but config.json says " +
                         std::to_string(c.num_layers) + " (text_config.num_hidden_layers)");
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = t + "encoder.layers." + std::to_string(i) + ".";
    Layer l;
    l.norm1 = load_layer_norm(w, p + "layer_norm1", d, c.layer_norm_eps);
    l.norm2 = load_layer_norm(w, p + "layer_norm2", d, c.layer_norm_eps);
    l.q = load_linear(w, p + "self_attn.q_proj", d, d);
    l.k = load_linear(w, p + "self_attn.k_proj", d, d);
    l.v = load_linear(w, p + "self_attn.v_proj", d, d);
    l.out = load_linear(w, p + "self_attn.out_proj", d, d);
    l.fc1 = load_linear(w, p + "mlp.fc1", d, c.intermediate_size);
    l.fc2 = load_linear(w, p + "mlp.fc2", c.intermediate_size, d);
    e.layers_.push_back(std::move(l));
  }
  e.final_norm_ = load_layer_norm(w, t + "final_layer_norm", d, c.layer_norm_eps);
  const std::string clip_projection = prefix + "text_encoder.text_projection";
  if (w.contains(clip_projection + ".weight"))
    e.clip_projection_ = load_linear(w, clip_projection, d, c.projection_dim, /*with_bias=*/false);
  e.projection_ = load_linear(w, prefix + "text_projection", d, c.output_size);
  return e;
}

void TextEncoder::use_bfloat16(int64_t rows) {
  for (Layer& l : layers_)
    for (nn::Linear* linear : {&l.q, &l.k, &l.v, &l.out, &l.fc1, &l.fc2}) linear->use_bfloat16(rows);
  compute_ = at::kBFloat16;
}

at::Tensor TextEncoder::attention(const Layer& l, const at::Tensor& h, const at::Tensor& bias) const {
  const int64_t b = h.size(0), len = h.size(1), heads = config_.num_heads, dh = config_.hidden_size / heads;
  auto split = [&](const at::Tensor& x) { return x.view({b, len, heads, dh}).transpose(1, 2); };  // B×H×L×dh
  const at::Tensor q = split(l.q(h)), k = split(l.k(h)), v = split(l.v(h));
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  if (!kernels::hand_written_path({&q})) {
    // Off the CPU: one attention call with the causal and padding bias added, in float32 as below.
    const at::Tensor o = kernels::aten_attention(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), bias, scale);
    return o.to(v.scalar_type()).transpose(1, 2).reshape({b, len, config_.hidden_size});
  }
  at::Tensor scores = kernels::matmul(q, k.transpose(-1, -2), scale);
  if (scores.scalar_type() != at::kFloat) scores = scores.to(at::kFloat);  // the mask's −3.4e38 and the softmax
  scores.add_(bias);
  const at::Tensor o = kernels::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
  return o.transpose(1, 2).reshape({b, len, config_.hidden_size});
}

at::Tensor TextEncoder::mlp(const Layer& l, const at::Tensor& h) const {
  if (config_.hidden_act == TextActivation::Gelu) return l.fc1.gelu(h);
  const at::Tensor x = l.fc1(h);
  return x * at::sigmoid(x * 1.702);
}

TextEncoderOutput TextEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                       const TextForwardOptions& options) const {
  const std::string ctx = "SAM 3 text encoder";
  if (!input_ids.defined() || input_ids.dim() != 2)
    fail(ctx, "input_ids must be batch × length, not " + (input_ids.defined() ? shape_of(input_ids) : "missing"));
  if (!at::isIntegralType(input_ids.scalar_type(), /*includeBool=*/false)) fail(ctx, "input_ids must be integers");
  const int64_t b = input_ids.size(0), len = input_ids.size(1);
  if (b == 0 || len == 0) fail(ctx, "input_ids is empty (" + shape_of(input_ids) + ")");
  if (len > config_.max_position_embeddings)
    fail(ctx, "a sequence of " + std::to_string(len) + " tokens is longer than the model's " +
                  std::to_string(config_.max_position_embeddings) + " positions (max_position_embeddings)");
  const at::Tensor ids = input_ids.to(at::kLong).contiguous();
  const int64_t lowest = ids.min().item<int64_t>(), highest = ids.max().item<int64_t>();
  if (lowest < 0 || highest >= config_.vocab_size)
    fail(ctx, "token id " + std::to_string(lowest < 0 ? lowest : highest) + " is outside the vocabulary (0.." +
                  std::to_string(config_.vocab_size - 1) + ")");

  TextEncoderOutput out;
  if (attention_mask.defined()) {
    if (attention_mask.sizes() != input_ids.sizes())
      fail(ctx, "attention_mask is " + shape_of(attention_mask) + " but input_ids is " + shape_of(input_ids));
    if (!at::isIntegralType(attention_mask.scalar_type(), /*includeBool=*/true))
      fail(ctx, "attention_mask must be integers or booleans");
    out.mask = attention_mask.ne(0);  // transformers casts the mask to bool
  } else {
    out.mask = at::ones({b, len}, ids.options().dtype(at::kBool));
  }
  const bool keep_intermediates = options.keep_intermediates;
  int64_t n = len;  // positions computed
  if (options.trim_padding) {
    const at::Tensor real = out.mask.any(0).nonzero();
    n = real.numel() ? real.max().item<int64_t>() + 1 : 1;
  }

  // Query i sees key j when j <= i and j is a real token; blocked pairs get the float32 minimum
  // added, as transformers' eager mask does (a row with no visible key then averages all keys).
  const auto on = ids.options();  // the ids' device
  const at::Tensor visible =
      at::ones({n, n}, on.dtype(at::kBool)).tril().unsqueeze(0).logical_and(out.mask.slice(1, 0, n).unsqueeze(1));
  const at::Tensor bias = at::zeros({b, 1, n, n}, on.dtype(at::kFloat))
                              .masked_fill_(visible.logical_not().unsqueeze(1), std::numeric_limits<float>::lowest());

  const at::Tensor used_ids = ids.slice(1, 0, n).contiguous();
  at::Tensor x = token_embedding_.index_select(0, used_ids.view(-1)).view({b, n, config_.hidden_size}) +
                 position_embedding_.slice(0, 0, n);
  if (keep_intermediates) out.embeddings = x.clone();
  const bool fp32 = compute_ == at::kFloat;
  for (const Layer& l : layers_) {
    l.out.accumulate(x, attention(l, fp32 ? l.norm1(x) : l.norm1(x, compute_), bias));
    l.fc2.accumulate(x, mlp(l, fp32 ? l.norm2(x) : l.norm2(x, compute_)));
    if (keep_intermediates) out.layers.push_back(x.clone());
  }
  const at::Tensor last = final_norm_(x);
  out.token_features = projection_(last);
  if (n < len) {
    at::Tensor full = at::zeros({b, len, config_.output_size}, out.token_features.options());
    full.slice(1, 0, n).copy_(out.token_features);
    out.token_features = full;
  }
  if (keep_intermediates) {
    out.last_hidden_state = last;
    if (clip_projection_.weight.defined()) {
      const at::Tensor row = std::get<0>(ids.max(-1)).eq(kLegacyEos).all().item<bool>()
                                 ? at::argmax(used_ids, -1)
                                 : at::argmax(used_ids.eq(config_.eos_token_id).to(at::kInt), -1);
      const at::Tensor pooled = last.gather(1, row.view({b, 1, 1}).expand({b, 1, config_.hidden_size})).squeeze(1);
      out.clip_text_embeds = clip_projection_(pooled);
    }
  }
  return out;
}

}  // namespace segkit::sam3
