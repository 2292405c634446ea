#pragma once
// Building blocks that SAM 3's DETR encoder, decoder and heads share (transformers 5.17's
// Sam3Attention, Sam3MLP and Sam3DecoderMLP), float32, with shape-checked loading.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "nn/checked_layers.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

// Multi-head attention with q/k/v/o projections ("<prefix>.q_proj", …, "<prefix>.o_proj").
struct Attention {
  nn::Linear q, k, v, o;
  int64_t heads = 1;
  // The products' type: float32, or bfloat16 after use_bfloat16 (then the result is bfloat16;
  // the softmax, and the products outside the fused kernel, stay float32).
  at::ScalarType compute = at::kFloat;
  static Attention load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads);
  void use_bfloat16(int64_t rows);  // the four projections packed for `rows`-row inputs
  // o(softmax(q·kᵀ/√dh + bias)·v) for query B×Lq×C, key and value B×Lk×C. `bias` is additive and
  // broadcasts to B×heads×Lq×Lk (each of its first three sizes 1 or full); undefined: none.
  // Query and key the same tensor without a bias run on the fused kernel where the CPU has it
  // (kernels/cpu/attention_fused.h; within about 1e-6 of the unfused products).
  at::Tensor operator()(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                        const at::Tensor& bias = {}) const;
  // residual += the same (a residual connection), without a separate output tensor.
  void accumulate(const at::Tensor& residual, const at::Tensor& query, const at::Tensor& key,
                  const at::Tensor& value, const at::Tensor& bias = {}) const;

 private:
  at::Tensor attend(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                    const at::Tensor& bias) const;
};

// B × Lk "real token" mask (integer or bool, nonzero = real) → B×1×1×Lk float bias: 0 at real
// keys, the float32 minimum at padded ones, as transformers' eager key-padding mask. Undefined
// in, undefined out.
at::Tensor key_padding_bias(const at::Tensor& mask, int64_t batch, int64_t keys, const std::string& context);

// fc2(act(fc1 x)) ("<prefix>.fc1", "<prefix>.fc2").
struct FeedForward {
  nn::Linear fc1, fc2;
  DetrActivation act = DetrActivation::Relu;
  at::ScalarType compute = at::kFloat;  // bfloat16 after use_bfloat16 (results too)
  void use_bfloat16(int64_t rows);
  static FeedForward load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t hidden,
                          DetrActivation act);
  at::Tensor hidden(const at::Tensor& x) const;  // act(fc1 x)
  at::Tensor operator()(const at::Tensor& x) const { return fc2(hidden(x)); }
  void accumulate(const at::Tensor& residual, const at::Tensor& x) const { fc2.accumulate(residual, hidden(x)); }
};

// A pre-norm layer of the DETR and geometry encoders: layer_norm1 before self-attention,
// layer_norm2 before cross-attention, layer_norm3 before the feed-forward block (eps 1e-5, as
// transformers builds them whatever the config says). What each attention reads is the caller's.
struct EncoderLayer {
  nn::LayerNorm norm1, norm2, norm3;
  Attention self_attn, cross_attn;
  FeedForward mlp;
  // prefix: "….layers.N" (without the trailing dot).
  static EncoderLayer load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads,
                           int64_t hidden, DetrActivation act);
  void use_bfloat16(int64_t rows);  // both attentions and the feed-forward block
};

// Linear layers "<prefix>.layer1", "layer2"[, "layer3"] with ReLU between them, none after the last.
struct DecoderMlp {
  std::vector<nn::Linear> layers;
  static DecoderMlp load(const nn::WeightMap& w, const std::string& prefix, int64_t in, int64_t hidden, int64_t out,
                         int num_layers);
  at::Tensor operator()(const at::Tensor& x) const;
};

// "B × C × H × W" style text for messages.
std::string shape_text(const at::Tensor& t);

// Error (naming `context`) unless `features` is B × width × H × W and `pos` its position
// encoding (B or 1) × width × H × W.
void check_feature_map(const std::string& context, const at::Tensor& features, const at::Tensor& pos, int64_t width);

}  // namespace segkit::sam3
