#include "models/sam3/scoring.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// transformers builds this norm without an eps: PyTorch's default.
constexpr double kNormEps = 1e-5;
constexpr double kLogitClamp = 12.0;

}  // namespace

DotProductScoring DotProductScoring::load(const nn::WeightMap& w, const std::string& prefix,
                                          const DetrDecoderConfig& c) {
  DotProductScoring s;
  const std::string m = prefix + "dot_product_scoring.";
  const int64_t h = c.hidden_size;
  s.width_ = h;
  s.text_mlp_ = DecoderMlp::load(w, m + "text_mlp", h, c.intermediate_size, h, 2);
  s.text_norm_ = nn::load_layer_norm(w, m + "text_mlp_out_norm", h, kNormEps);
  s.text_proj_ = nn::load_linear(w, m + "text_proj", h, h);
  s.query_proj_ = nn::load_linear(w, m + "query_proj", h, h);
  return s;
}

at::Tensor DotProductScoring::operator()(const at::Tensor& queries, const at::Tensor& prompt,
                                         const at::Tensor& prompt_mask) const {
  const std::string ctx = "SAM 3 scoring";
  if (!prompt.defined() || prompt.dim() != 3 || prompt.size(2) != width_)
    fail(ctx, "the prompt must be batch × tokens × " + std::to_string(width_) + ", not " + shape_text(prompt));
  const int64_t b = prompt.size(0), p = prompt.size(1);
  if (!queries.defined() || queries.dim() < 3 || queries.size(-1) != width_ || queries.size(-3) != b)
    fail(ctx, "the queries must be … × " + std::to_string(b) + " × queries × " + std::to_string(width_) +
                  ", not " + shape_text(queries));
  const at::Tensor tokens = prompt.to(at::kFloat);
  const at::Tensor t = text_norm_(text_mlp_(tokens) + tokens);
  at::Tensor pooled;
  if (prompt_mask.defined()) {
    key_padding_bias(prompt_mask, b, p, ctx);  // the same shape and type checks
    const at::Tensor real = prompt_mask.ne(0).to(at::kFloat).unsqueeze(-1);  // B × P × 1
    pooled = (t * real).sum(1) / real.sum(1).clamp_min(1.0);
  } else {
    pooled = t.mean(1);
  }
  const at::Tensor text = text_proj_(pooled);  // B × C
  const at::Tensor q = query_proj_(queries.to(at::kFloat));
  const int64_t lead = q.numel() / (b * q.size(-2) * width_);
  const at::Tensor q4 = q.reshape({lead, b, q.size(-2), width_});
  const at::Tensor scores = kernels::matmul(q4, text.view({1, b, width_, 1}).expand({lead, b, width_, 1}));
  std::vector<int64_t> shape(queries.sizes().begin(), queries.sizes().end() - 1);
  return (scores * (1.0 / std::sqrt(static_cast<double>(width_)))).clamp(-kLogitClamp, kLogitClamp).view(shape);
}

}  // namespace segkit::sam3
