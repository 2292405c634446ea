#include "models/sam3/detr_encoder.h"

#include "segkit/error.h"

namespace segkit::sam3 {

DetrEncoder DetrEncoder::load(const nn::WeightMap& w, const std::string& prefix, const DetrEncoderConfig& c) {
  DetrEncoder e;
  e.config_ = c;
  const std::string base = prefix + "detr_encoder.layers.";
  const int found = w.count_indexed(base);
  if (found != c.num_layers)
    fail(w.source(), "the DETR encoder has " + std::to_string(found) + " layers but config.json says " +
                         std::to_string(c.num_layers) + " (detr_encoder_config.num_layers)");
  const int64_t d = c.hidden_size;
  for (int i = 0; i < c.num_layers; ++i) {
    e.layers_.push_back(
        EncoderLayer::load(w, base + std::to_string(i), d, c.num_heads, c.intermediate_size, c.hidden_act));
  }
  return e;
}

DetrEncoderOutput DetrEncoder::forward(const at::Tensor& features, const at::Tensor& pos, const at::Tensor& prompt,
                                       const at::Tensor& prompt_mask, bool keep_layers) const {
  const std::string ctx = "SAM 3 DETR encoder";
  const int64_t d = config_.hidden_size;
  check_feature_map(ctx, features, pos, d);
  const int64_t b = features.size(0), h = features.size(2), wd = features.size(3);
  if (!prompt.defined() || prompt.dim() != 3 || prompt.size(0) != b || prompt.size(2) != d)
    fail(ctx, "the prompt must be " + std::to_string(b) + " × tokens × " + std::to_string(d) + ", not " +
                  shape_text(prompt));
  const at::Tensor prompt_bias = key_padding_bias(prompt_mask, b, prompt.size(1), ctx);
  const at::Tensor tokens = prompt.to(at::kFloat).contiguous();

  DetrEncoderOutput out;
  out.height = h;
  out.width = wd;
  // B × C × H × W → B × H·W × C, always a copy: for channels-last features (as the vision
  // encoder gives them) the transposed view is already contiguous, and the layers below add
  // into x in place, which would change the caller's image features.
  at::Tensor x = features.to(at::kFloat).flatten(2).transpose(1, 2).clone(at::MemoryFormat::Contiguous);
  out.pos = pos.to(at::kFloat).flatten(2).transpose(1, 2).expand({b, h * wd, d}).contiguous();
  for (const EncoderLayer& l : layers_) {
    const at::Tensor n1 = l.norm1(x);
    const at::Tensor with_pos = n1 + out.pos;
    l.self_attn.accumulate(x, with_pos, with_pos, n1);
    l.cross_attn.accumulate(x, l.norm2(x), tokens, tokens, prompt_bias);
    l.mlp.accumulate(x, l.norm3(x));
    if (keep_layers) out.layers.push_back(x.clone());
  }
  out.memory = x;
  return out;
}

void DetrEncoder::use_bfloat16(int64_t tokens) {
  for (EncoderLayer& l : layers_) l.use_bfloat16(tokens);
}

}  // namespace segkit::sam3
