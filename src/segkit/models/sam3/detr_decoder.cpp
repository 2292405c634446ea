#include "models/sam3/detr_decoder.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/floor.h>
#include <ATen/ops/log.h>
#include <ATen/ops/log2.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/sign.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <utility>
#include <vector>

#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// transformers builds these norms without an eps: PyTorch's default, not the config's 1e-6.
constexpr double kNormEps = 1e-5;
constexpr double kPresenceClamp = 10.0;
constexpr double kTemperature = 10000.0;
const double kTwoPi = 2.0 * M_PI;

// Prepends a zero row (the presence token's) along the query dimension `dim`.
at::Tensor with_presence_row(const at::Tensor& x, int64_t dim) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape[dim] = 1;
  return at::cat({at::zeros(shape, x.options()), x}, dim);
}

}  // namespace

at::Tensor cxcywh_to_xyxy(const at::Tensor& boxes) {
  const at::Tensor cx = boxes.select(-1, 0), cy = boxes.select(-1, 1);
  const at::Tensor w = boxes.select(-1, 2), h = boxes.select(-1, 3);
  return at::stack({cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}, -1);
}

at::Tensor inverse_sigmoid(const at::Tensor& v) {
  const at::Tensor x = v.clamp(0, 1);
  return at::log(x.clamp_min(1e-3) / (1 - x).clamp_min(1e-3));
}

DetrDecoder DetrDecoder::load(const nn::WeightMap& w, const std::string& prefix, const DetrDecoderConfig& c) {
  DetrDecoder d;
  d.config_ = c;
  const std::string m = prefix + "detr_decoder.";
  const int found = w.count_indexed(m + "layers.");
  if (found != c.num_layers)
    fail(w.source(), "the DETR decoder has " + std::to_string(found) + " layers but config.json says " +
                         std::to_string(c.num_layers) + " (detr_decoder_config.num_layers)");
  const int64_t h = c.hidden_size;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = m + "layers." + std::to_string(i) + ".";
    Layer l;
    l.self_attn = Attention::load(w, p + "self_attn", h, c.num_heads);
    l.text_cross_attn = Attention::load(w, p + "text_cross_attn", h, c.num_heads);
    l.vision_cross_attn = Attention::load(w, p + "vision_cross_attn", h, c.num_heads);
    l.self_attn_norm = nn::load_layer_norm(w, p + "self_attn_layer_norm", h, kNormEps);
    l.text_cross_attn_norm = nn::load_layer_norm(w, p + "text_cross_attn_layer_norm", h, kNormEps);
    l.vision_cross_attn_norm = nn::load_layer_norm(w, p + "vision_cross_attn_layer_norm", h, kNormEps);
    l.mlp_norm = nn::load_layer_norm(w, p + "mlp_layer_norm", h, kNormEps);
    l.mlp = FeedForward::load(w, p + "mlp", h, c.intermediate_size, c.hidden_act);
    d.layers_.push_back(std::move(l));
  }
  d.output_norm_ = nn::load_layer_norm(w, m + "output_layer_norm", h, kNormEps);
  d.presence_norm_ = nn::load_layer_norm(w, m + "presence_layer_norm", h, kNormEps);
  d.box_head_ = DecoderMlp::load(w, m + "box_head", h, h, 4, 3);
  d.presence_head_ = DecoderMlp::load(w, m + "presence_head", h, h, 1, 3);
  d.ref_point_head_ = DecoderMlp::load(w, m + "ref_point_head", 2 * h, h, h, 2);
  d.rpb_x_ = DecoderMlp::load(w, m + "box_rpb_embed_x", 2, h, c.num_heads, 2);
  d.rpb_y_ = DecoderMlp::load(w, m + "box_rpb_embed_y", 2, h, c.num_heads, 2);
  d.query_embed_ = w.get(m + "query_embed.weight", {c.num_queries, h});
  d.reference_points_ = w.get(m + "reference_points.weight", {c.num_queries, 4});
  d.presence_token_ = w.get(m + "presence_token.weight", {1, h});
  return d;
}

at::Tensor DetrDecoder::query_position(const at::Tensor& boxes) const {
  // Sine features of each box coordinate (hidden/2 each: sin at even, cos at odd frequencies),
  // concatenated as (cy, cx, w, h), then ref_point_head.
  const int64_t feats = config_.hidden_size / 2;
  const at::Tensor k = at::arange(feats, boxes.options().dtype(at::kLong)).to(at::kFloat);
  const at::Tensor dim_t = at::pow(kTemperature, 2 * at::floor(k / 2) / static_cast<double>(feats));
  auto encode = [&](int64_t coordinate) {
    const at::Tensor v = (boxes.select(-1, coordinate) * kTwoPi).unsqueeze(-1) / dim_t;  // B × Q × feats
    const at::Tensor sin = v.slice(-1, 0, feats, 2).sin(), cos = v.slice(-1, 1, feats, 2).cos();
    return at::stack({sin, cos}, -1).flatten(-2);
  };
  return ref_point_head_(at::cat({encode(1), encode(0), encode(2), encode(3)}, -1));
}

at::Tensor DetrDecoder::box_bias(const at::Tensor& boxes, int64_t height, int64_t width) const {
  // Box relative-position bias: for each query and each row (column) of the feature grid, the
  // signed, log-scaled distances from the row (column) start to the box's two edges, embedded per
  // head; row and column terms add up over the grid. Grid positions are i / H, not pixel centres.
  const int64_t b = boxes.size(0), q = boxes.size(1), heads = config_.num_heads;
  const at::Tensor xyxy = cxcywh_to_xyxy(boxes);
  auto log_scaled = [](const at::Tensor& d) {
    const at::Tensor t = d * 8;
    return at::sign(t) * at::log2(t.abs() + 1.0) / 3.0;
  };
  const auto on = boxes.options().dtype(at::kFloat);  // the boxes' device
  const at::Tensor ch = at::arange(height, on) / static_cast<double>(height);
  const at::Tensor cw = at::arange(width, on) / static_cast<double>(width);
  // B × Q × H × 2 and B × Q × W × 2
  const at::Tensor dy = ch.view({1, 1, height, 1}) - xyxy.slice(-1, 1, 4, 2).unsqueeze(2);
  const at::Tensor dx = cw.view({1, 1, width, 1}) - xyxy.slice(-1, 0, 3, 2).unsqueeze(2);
  const at::Tensor by = rpb_y_(log_scaled(dy));  // B × Q × H × heads
  const at::Tensor bx = rpb_x_(log_scaled(dx));  // B × Q × W × heads
  const at::Tensor bias = (by.unsqueeze(3) + bx.unsqueeze(2)).view({b, q, height * width, heads});
  return with_presence_row(bias.permute({0, 3, 1, 2}), 2).contiguous();  // B × heads × (1 + Q) × H·W
}

DetrDecoderOutput DetrDecoder::forward(const at::Tensor& memory, const at::Tensor& pos, int64_t height, int64_t width,
                                       const at::Tensor& prompt, const at::Tensor& prompt_mask,
                                       bool keep_layers) const {
  const std::string ctx = "SAM 3 DETR decoder";
  const int64_t c = config_.hidden_size;
  if (!memory.defined() || memory.dim() != 3 || memory.size(2) != c || height < 1 || width < 1 ||
      memory.size(1) != height * width)
    fail(ctx, "the encoder memory is " + shape_text(memory) + ", not batch × " + std::to_string(height) + "·" +
                  std::to_string(width) + " × " + std::to_string(c));
  const int64_t b = memory.size(0), q = config_.num_queries;
  if (!pos.defined() || pos.sizes() != memory.sizes())
    fail(ctx, "the position encoding is " + shape_text(pos) + " but the memory is " + shape_text(memory));
  if (!prompt.defined() || prompt.dim() != 3 || prompt.size(0) != b || prompt.size(2) != c)
    fail(ctx, "the prompt must be " + std::to_string(b) + " × tokens × " + std::to_string(c) + ", not " +
                  shape_text(prompt));
  const at::Tensor prompt_bias = key_padding_bias(prompt_mask, b, prompt.size(1), ctx);
  const at::Tensor tokens = prompt.to(at::kFloat).contiguous();
  const at::Tensor values = memory.to(at::kFloat).contiguous();
  const at::Tensor keys = values + pos.to(at::kFloat);

  at::Tensor boxes = at::sigmoid(reference_points_).unsqueeze(0).expand({b, q, 4}).contiguous();
  at::Tensor x = at::cat({presence_token_, query_embed_}).unsqueeze(0).expand({b, q + 1, c}).contiguous();
  std::vector<at::Tensor> hidden, references, presence;
  DetrDecoderOutput out;
  for (const Layer& l : layers_) {
    references.push_back(boxes);
    const at::Tensor query_pos = with_presence_row(query_position(boxes), 1);
    const at::Tensor rpb = box_bias(boxes, height, width);

    at::Tensor with_pos = x + query_pos;
    x = l.self_attn_norm(x + l.self_attn(with_pos, with_pos, x));
    x = l.text_cross_attn_norm(x + l.text_cross_attn(x + query_pos, tokens, tokens, prompt_bias));
    x = l.vision_cross_attn_norm(x + l.vision_cross_attn(x + query_pos, keys, values, rpb));
    x = l.mlp_norm(x + l.mlp(x));
    if (keep_layers) out.layers.push_back(x);

    const at::Tensor normed = output_norm_(x.slice(1, 1));
    boxes = at::sigmoid(box_head_(normed) + inverse_sigmoid(boxes));
    hidden.push_back(normed);
    const at::Tensor presence_logit = presence_head_(presence_norm_(x.slice(1, 0, 1))).squeeze(-1);
    presence.push_back(presence_logit.clamp(-kPresenceClamp, kPresenceClamp));
  }
  out.hidden = at::stack(hidden);
  out.reference_boxes = at::stack(references);
  out.presence_logits = at::stack(presence);
  out.boxes = boxes;
  return out;
}

}  // namespace segkit::sam3
