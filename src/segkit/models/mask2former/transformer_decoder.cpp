#include "models/mask2former/transformer_decoder.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "core/torch_parallel.h"
#include "kernels/aten_attention.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/attention_softmax.h"
#include "kernels/cpu/blocked_keys.h"
#include "kernels/cpu/masked_attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/packed_linear.h"
#include "models/device.h"
#include "models/mask2former/position_embedding.h"

namespace segkit::mask2former {

namespace {

constexpr double kNormEps = 1e-5;
constexpr int kLevels = 3;
constexpr int64_t kQueryRows = 50;  // queries of one attention task (see attend)

// B × L × (heads·dh) → B × heads × L × dh, a view: the products read each head's rows in place.
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// B × heads × L × dh → B × L × (heads·dh)
at::Tensor merge_heads(const at::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

// softmax(q·kᵀ/√dh, −∞ where `blocked`)·v over B × heads × L × dh (views with unit stride in
// dh); `blocked` (B × L × N, the same for every head) may be undefined. The path where the
// fused kernel (multi_head_attention below) does not run. On the CPU 50 queries
// of one head at a time, one such task per thread: their scores (3 MB at the finest level of
// 800×1216) stay in cache through the product, the masked softmax and the product with v.
// Fewer rows a task measured slower (each task packs the head's v again), all 200 as well.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), keys = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  if (!kernels::hand_written_path({&q})) {
    // Off the CPU: all heads in one attention call, the blocked pairs as −∞ in its additive bias
    // (B × 1 × L × N, every head alike). No row is blocked everywhere (kernels::blocked_keys).
    if (!blocked.defined()) return kernels::aten_attention(q, k, v, at::Tensor(), scale);
    const at::Tensor bias = at::zeros(blocked.sizes(), q.options())
                                .masked_fill_(blocked, -std::numeric_limits<float>::infinity())
                                .unsqueeze(1);
    return kernels::aten_attention(q, k, v, bias, scale);
  }
  const int64_t blocks = (queries + kQueryRows - 1) / kQueryRows;
  at::Tensor out = at::empty({batch, heads, queries, v.size(3)}, q.options());
  const at::Tensor blocked_rows = blocked.defined() ? blocked.contiguous() : at::Tensor();
  torch_parallel_for(0, batch * heads * blocks, 1, [&](int64_t begin, int64_t end) {
    at::Tensor scores = at::empty({kQueryRows, keys}, q.options());
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / (heads * blocks), h = task / blocks % heads, r0 = task % blocks * kQueryRows;
      const int64_t rows = std::min(kQueryRows, queries - r0);
      const at::Tensor s = scores.narrow(0, 0, rows);
      kernels::matmul_into(s, q[b][h].narrow(0, r0, rows), k[b][h].t(), 0.0, scale);
      kernels::masked_softmax_(s, blocked_rows.defined() ? blocked_rows[b].narrow(0, r0, rows) : at::Tensor());
      kernels::matmul_into(out[b][h].narrow(0, r0, rows), s, v[b][h]);
    }
  });
  return out;
}

// Multi-head attention of q (B × Q × C, float32) over k and v (B × L × C, in the compute type),
// heads side by side in and out: the fused kernel where it runs, else per head as above.
at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                                int64_t heads) {
  if (kernels::masked_attention_supports(q, k, v, heads)) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2) / heads));
    return kernels::masked_attention(q, k, v, blocked, heads, scale);
  }
  return merge_heads(attend(split_heads(q, heads), split_heads(k.to(at::kFloat), heads),
                            split_heads(v.to(at::kFloat), heads), blocked));
}

}  // namespace

TransformerDecoder TransformerDecoder::load(const nn::WeightMap& w, const Mask2FormerConfig& c) {
  TransformerDecoder d;
  d.heads_ = c.num_attention_heads;
  d.hidden_ = c.hidden_dim;
  const std::string m = "model.transformer_module.";
  for (int i = 0; i + 1 < c.decoder_layers; ++i) {
    const std::string p = m + "decoder.layers." + std::to_string(i) + ".";
    MaskedAttentionLayer l;
    const at::Tensor in_weight = w.get(p + "cross_attn.in_proj_weight"), in_bias = w.get(p + "cross_attn.in_proj_bias");
    const int64_t h = c.hidden_dim;
    for (auto [part, linear] : {std::pair{0, &l.cross_q}, {1, &l.cross_k}, {2, &l.cross_v}}) {
      linear->weight = in_weight.slice(0, part * h, (part + 1) * h);
      linear->bias = in_bias.slice(0, part * h, (part + 1) * h);
    }
    l.cross_out = nn::Linear::load(w, p + "cross_attn.out_proj");
    l.self_q = nn::Linear::load(w, p + "self_attn.q_proj");
    l.self_k = nn::Linear::load(w, p + "self_attn.k_proj");
    l.self_v = nn::Linear::load(w, p + "self_attn.v_proj");
    l.self_out = nn::Linear::load(w, p + "self_attn.out_proj");
    l.fc1 = nn::Linear::load(w, p + "fc1");
    l.fc2 = nn::Linear::load(w, p + "fc2");
    l.cross_norm = nn::LayerNorm::load(w, p + "cross_attn_layer_norm", kNormEps);
    l.self_norm = nn::LayerNorm::load(w, p + "self_attn_layer_norm", kNormEps);
    l.final_norm = nn::LayerNorm::load(w, p + "final_layer_norm", kNormEps);
    d.layers_.push_back(std::move(l));
  }
  d.decoder_norm_ = nn::LayerNorm::load(w, m + "decoder.layernorm", kNormEps);
  d.class_predictor_ = nn::Linear::load(w, "class_predictor");
  for (int i = 0; i < 3; ++i)
    d.mask_embedder_.push_back(nn::Linear::load(w, m + "decoder.mask_predictor.mask_embedder." + std::to_string(i) + ".0"));
  d.level_embed_ = w.get(m + "level_embed.weight");
  d.query_features_ = w.get(m + "queries_features.weight");
  d.query_position_ = w.get(m + "queries_embedder.weight");
  return d;
}

at::Tensor TransformerDecoder::mask_embedding(const at::Tensor& normed) const {
  at::Tensor embedding = normed;
  for (size_t i = 0; i < mask_embedder_.size(); ++i)
    embedding = i + 1 < mask_embedder_.size() ? mask_embedder_[i].relu(embedding) : mask_embedder_[i](embedding);
  return embedding;
}

namespace {

// A map's features (B × c × h × w) in the products that make mask logits from the queries'
// mask embeddings (transformers' einsum) → B × Q × h × w float32. In float32 the features are
// read as they are; in bfloat16 each item's pixels are packed once as the weights of a product
// with float32 sums (the embedding is small, the pixels many).
class MaskFeatures {
 public:
  MaskFeatures(const at::Tensor& features, at::ScalarType type, int64_t queries) : features_(features), type_(type) {
    if (type == at::kFloat) return;
    const int64_t c = features.size(1), pixels = features.size(2) * features.size(3);
    for (int64_t b = 0; b < features.size(0); ++b) {
      // A view of channels-last features, converted as it is packed.
      const at::Tensor rows = features[b].permute({1, 2, 0}).reshape({pixels, c});
      packed_.push_back(kernels::PackedLinear::pack(rows, at::Tensor(), queries, type));
      if (!packed_.back()) {  // no such product here: the float32 one
        packed_.clear();
        return;
      }
    }
  }

  at::Tensor logits(const at::Tensor& embedding) const {
    const int64_t b = features_.size(0), c = features_.size(1), h = features_.size(2), w = features_.size(3);
    if (packed_.empty())
      return kernels::matmul(embedding.to(at::kFloat), features_.reshape({b, c, h * w})).view({b, -1, h, w});
    std::vector<at::Tensor> items;
    for (int64_t i = 0; i < b; ++i)
      items.push_back((*packed_[size_t(i)])(embedding[i].to(type_), kernels::LinearActivation::kNone, at::kFloat));
    return (b == 1 ? items[0].unsqueeze(0) : at::stack(items)).view({b, -1, h, w});
  }

 private:
  at::Tensor features_;
  at::ScalarType type_;
  std::vector<std::shared_ptr<const kernels::PackedLinear>> packed_;
};

}  // namespace

DecoderOutput TransformerDecoder::operator()(const std::vector<at::Tensor>& multi_scale, const at::Tensor& mask_features,
                                             bool all_layers) const {
  const int64_t batch = mask_features.size(0), d = hidden_;
  std::vector<at::Tensor> memory(kLevels), memory_with_pos(kLevels);
  std::vector<std::array<int64_t, 2>> sizes(kLevels);
  for (int l = 0; l < kLevels; ++l) {
    const at::Tensor& f = multi_scale[l];
    sizes[l] = {f.size(2), f.size(3)};
    memory[l] = (f.flatten(2).transpose(1, 2) + level_embed_[l]).contiguous();  // B × HW × d
    memory_with_pos[l] =
        memory[l] + models::to_device(sine_position_embedding(f.size(2), f.size(3), d / 2), f.device()).flatten(2).transpose(1, 2);
    memory[l] = memory[l].to(compute_);  // the inputs of the key and value projections only
    memory_with_pos[l] = memory_with_pos[l].to(compute_);
  }
  // transformers resizes each full-size mask prediction to the next level's size to make the
  // attention mask. Bilinear resizing is linear per channel, so resizing the mask features once
  // per level and multiplying by the embedding gives the same logits without the full-size
  // product for every layer (a tenth of the model's work at 800×1216).
  // One layout (the pixel decoder's, channels-last) whatever the caller's, so that a staged run
  // and a whole forward agree to the bit (ATen's resize sums in another order per layout).
  const at::Tensor features = mask_features.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t queries = query_features_.size(0);
  std::vector<MaskFeatures> level_features;
  for (int l = 0; l < kLevels; ++l)
    level_features.emplace_back(at::upsample_bilinear2d(features, {sizes[l][0], sizes[l][1]}, false), compute_,
                                queries);
  std::optional<MaskFeatures> full_features;  // made for the first prediction kept
  auto in = [&](const at::Tensor& x) { return x.to(compute_); };  // a product's input
  at::Tensor hidden = query_features_.unsqueeze(0).expand({batch, -1, -1}).contiguous();
  const at::Tensor query_pos = query_position_.unsqueeze(0);
  DecoderOutput out;
  out.hidden_states.push_back(hidden);
  // The prediction after each layer (and from the queries): its class and mask logits where
  // kept, and the mask embedding that makes the next layer's attention mask.
  auto predict = [&](bool keep) {
    const at::Tensor normed = in(decoder_norm_(hidden));
    const at::Tensor embedding = mask_embedding(normed);
    if (keep) {
      if (!full_features) full_features.emplace(features, compute_, queries);
      out.predictions.push_back({class_predictor_.float32(normed), full_features->logits(embedding)});
    }
    return embedding;
  };
  at::Tensor embedding = predict(all_layers || layers_.empty());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const MaskedAttentionLayer& L = layers_[i];
    const int l = static_cast<int>(i % kLevels);
    const at::Tensor blocked = kernels::blocked_keys(level_features[size_t(l)].logits(embedding));
    // Masked cross-attention (torch.nn.MultiheadAttention with a packed projection).
    const at::Tensor attended =
        multi_head_attention(L.cross_q.float32(in(hidden + query_pos)), L.cross_k(memory_with_pos[l]),
                             L.cross_v(memory[l]), blocked, heads_);
    hidden = L.cross_norm(hidden + L.cross_out.float32(in(attended)));
    // Self-attention among the queries.
    const at::Tensor with_pos = in(hidden + query_pos);
    const at::Tensor self_attended = multi_head_attention(L.self_q.float32(with_pos), L.self_k(with_pos),
                                                          L.self_v(in(hidden)), at::Tensor(), heads_);
    hidden = L.self_norm(hidden + L.self_out.float32(in(self_attended)));
    hidden = L.final_norm(hidden + L.fc2.float32(L.fc1.relu(in(hidden))));
    out.hidden_states.push_back(hidden);
    embedding = predict(all_layers || i + 1 == layers_.size());
  }
  return out;
}

void TransformerDecoder::prepare_products(at::ScalarType type, int64_t tokens) {
  const int64_t queries = query_features_.size(0);
  for (MaskedAttentionLayer& l : layers_) {
    for (nn::Linear* linear : {&l.cross_k, &l.cross_v}) linear->prepare(type, tokens);
    for (nn::Linear* linear : {&l.cross_q, &l.cross_out, &l.self_q, &l.self_k, &l.self_v, &l.self_out, &l.fc1, &l.fc2})
      linear->prepare(type, queries);
  }
  for (nn::Linear& linear : mask_embedder_) linear.prepare(type, queries);
  class_predictor_.prepare(type, queries);
  compute_ = type;
}

}  // namespace segkit::mask2former
