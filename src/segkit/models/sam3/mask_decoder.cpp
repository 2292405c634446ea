#include "models/sam3/mask_decoder.h"

#include <ATen/ATen.h>

#include "kernels/cpu/group_norm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/upsample_phases.h"
#include "nn/checked_layers.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// transformers builds prompt_cross_attn_norm without an eps (config.layer_norm_eps is unused):
// PyTorch's default. nn.GroupNorm's default eps is the same.
constexpr double kNormEps = 1e-5;
constexpr int64_t kGroups = 8;
constexpr int kEmbedderLayers = 3;
const char* const kContext = "SAM 3 mask decoder";

// The two taps along `dim` that outputs of one parity see of a map upsampled ×2 by nearest:
// even outputs read the coarse row above with tap 0 and their own with taps 1 and 2, odd ones
// their own with taps 0 and 1 and the row below with tap 2.
at::Tensor fold_taps(const at::Tensor& kernel, int64_t dim, int parity) {
  const at::Tensor t0 = kernel.select(dim, 0), t1 = kernel.select(dim, 1), t2 = kernel.select(dim, 2);
  return parity == 0 ? at::stack({t0, t1 + t2}, dim) : at::stack({t0 + t1, t2}, dim);
}

// C × C × 3 × 3 → 4C × C × 2 × 2, phases in the order (row parity, column parity).
at::Tensor phase_kernels(const at::Tensor& weight) {
  const at::Tensor k = weight.to(at::kFloat);
  std::vector<at::Tensor> phases;
  for (int a = 0; a < 2; ++a) {
    const at::Tensor rows = fold_taps(k, 2, a);
    for (int c = 0; c < 2; ++c) phases.push_back(fold_taps(rows, 3, c));
  }
  return at::cat(phases).contiguous();
}

// A float32 map in the precision and layout of `weight` (bfloat16 runs channels-last).
at::Tensor as_conv_input(const at::Tensor& x, const at::Tensor& weight) {
  if (weight.scalar_type() == at::kFloat) return x;
  return x.to(weight.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace

MaskDecoder MaskDecoder::load(const nn::WeightMap& w, const std::string& prefix, int64_t width, int64_t heads,
                              int64_t stages) {
  if (width <= 0 || heads <= 0 || width % heads != 0 || width % kGroups != 0 || stages < 1)
    fail(kContext, "bad sizes: width " + std::to_string(width) + ", " + std::to_string(heads) + " heads, " +
                       std::to_string(stages) + " stages");
  MaskDecoder d;
  const std::string m = prefix + "mask_decoder.";
  const int64_t h = width;
  d.width_ = h;
  d.prompt_norm_ = nn::load_layer_norm(w, m + "prompt_cross_attn_norm", h, kNormEps);
  d.prompt_attn_ = Attention::load(w, m + "prompt_cross_attn", h, heads);
  for (int64_t i = 0; i < stages; ++i) {
    const std::string k = std::to_string(i);
    d.convs_.push_back(nn::load_conv2d(w, m + "pixel_decoder.conv_layers." + k, h, h, 3));
    d.norms_.push_back(nn::load_group_norm(w, m + "pixel_decoder.norms." + k, h, kGroups, kNormEps));
    d.phase_weights_.push_back(phase_kernels(d.convs_.back().weight));
  }
  for (int i = 0; i < kEmbedderLayers; ++i)
    d.embedder_.push_back(nn::load_linear(w, m + "mask_embedder.layers." + std::to_string(i), h, h));
  d.instance_proj_ = nn::load_conv2d(w, m + "instance_projection", h, h, 1);
  d.semantic_proj_ = nn::load_conv2d(w, m + "semantic_projection", h, 1, 1);
  return d;
}

at::Tensor MaskDecoder::attend_prompt(const at::Tensor& memory, const Prompt& prompt) const {
  if (!memory.defined() || memory.dim() != 3 || memory.size(2) != width_)
    fail(kContext, "the memory must be batch × tokens × " + std::to_string(width_) + ", not " + shape_text(memory));
  const at::Tensor mem = memory.to(at::kFloat);
  if (!prompt.tokens.defined()) return mem;
  const at::Tensor& tokens = prompt.tokens;
  const int64_t b = mem.size(0);
  if (tokens.dim() != 3 || (tokens.size(0) != b && tokens.size(0) != 1) || tokens.size(2) != width_)
    fail(kContext, "the prompt must be " + std::to_string(b) + " (or 1) × tokens × " + std::to_string(width_) +
                       ", not " + shape_text(tokens));
  at::Tensor bias = key_padding_bias(prompt.mask, tokens.size(0), tokens.size(1), kContext);
  // One phrase for a batch of images, as Detr::forward allows.
  const at::Tensor t = tokens.to(at::kFloat).expand({b, tokens.size(1), width_});
  if (bias.defined()) bias = bias.expand({b, 1, 1, tokens.size(1)});
  // Pre-norm residual; no norm after it.
  at::Tensor out = mem.clone();
  prompt_attn_.accumulate(out, prompt_norm_(mem), t, t, bias);
  return out;
}

at::Tensor MaskDecoder::embed_queries(const at::Tensor& queries) const {
  if (!queries.defined() || queries.dim() != 3 || queries.size(2) != width_)
    fail(kContext,
         "the queries must be batch × queries × " + std::to_string(width_) + ", not " + shape_text(queries));
  at::Tensor x = queries.to(at::kFloat);
  for (size_t i = 0; i < embedder_.size(); ++i) {
    x = embedder_[i](x);
    if (i + 1 < embedder_.size()) x = at::relu(x);
  }
  return x;
}

void MaskDecoder::check_levels(const std::vector<at::Tensor>& levels, int64_t batch) const {
  if (levels.size() < 2)
    fail(kContext, "needs at least two FPN levels (finer ones and the memory's), got " + std::to_string(levels.size()));
  // transformers runs one stage per level finer than the memory's, whatever num_upsampling_stages
  // says: with the three levels SAM 3 passes, conv_layers[2] / norms[2] stay unused.
  if (levels.size() - 1 > convs_.size())
    fail(kContext, std::to_string(levels.size()) + " FPN levels need " + std::to_string(levels.size() - 1) +
                       " upsampling stages; the model has " + std::to_string(convs_.size()));
  for (const at::Tensor& l : levels)
    if (!l.defined() || l.dim() != 4 || (batch > 0 && l.size(0) != batch && l.size(0) != 1) || l.size(1) != width_)
      fail(kContext, "each FPN level must be " +
                         (batch > 0 ? std::to_string(batch) + " (or 1)" : std::string("batch")) + " × " +
                         std::to_string(width_) + " × height × width, not " + shape_text(l));
}

std::vector<at::Tensor> MaskDecoder::skip_terms(const std::vector<at::Tensor>& levels) const {
  check_levels(levels, 0);
  std::vector<at::Tensor> terms;
  for (size_t k = 0; k + 1 < levels.size(); ++k) {
    const nn::Conv2d& conv = convs_[k];
    terms.push_back(conv(as_conv_input(levels[levels.size() - 2 - k].to(at::kFloat), conv.weight))
                        .contiguous(at::MemoryFormat::ChannelsLast));
  }
  return terms;
}

at::Tensor MaskDecoder::convolve_upsampled(const at::Tensor& p, size_t stage, const at::Tensor& term) const {
  const at::Tensor& weight = convs_[stage].weight;
  const int64_t h = term.size(2), w = term.size(3);
  if (h != 2 * p.size(2) || w != 2 * p.size(3)) {
    // F.interpolate(mode="nearest"): PyTorch's floor(dst · in / out) source index.
    const at::Tensor up = at::upsample_nearest2d(p, {h, w});
    return at::conv2d(as_conv_input(up, weight), weight, {}, {1, 1}, {1, 1}).to(at::kFloat).add_(term);
  }
  // Output (2i + a, 2j + b) of the 3×3 convolution of the upsampled map is output (i + a, j + b)
  // of phase (a, b)'s 2×2 convolution of the coarse map padded by one.
  // Channels-last in both precisions: the phases' kernel reads C contiguous values per pixel.
  const at::Tensor y = at::conv2d(as_conv_input(p, weight).contiguous(at::MemoryFormat::ChannelsLast),
                                  phase_weights_[stage], {}, {1, 1}, {1, 1});
  return kernels::add_upsampled_phases(y, term);
}

MaskDecoderOutput MaskDecoder::forward(const at::Tensor& queries, const std::vector<at::Tensor>& levels,
                                       const at::Tensor& memory, const Prompt& prompt,
                                       const std::vector<at::Tensor>& skip_terms) const {
  check_levels(levels, 0);
  const at::Tensor mem = attend_prompt(memory, prompt);
  const int64_t b = mem.size(0);
  check_levels(levels, b);
  const size_t stages = levels.size() - 1;
  if (!skip_terms.empty()) {
    if (skip_terms.size() != stages)
      fail(kContext, std::to_string(skip_terms.size()) + " skip terms for " + std::to_string(stages) + " stages");
    for (size_t k = 0; k < stages; ++k) {
      const at::Tensor& t = skip_terms[k];
      const at::Tensor& skip = levels[levels.size() - 2 - k];
      if (!t.defined() || t.dim() != 4 || (t.size(0) != b && t.size(0) != 1) || t.size(1) != width_ ||
          t.size(2) != skip.size(2) || t.size(3) != skip.size(3))
        fail(kContext, "skip term " + std::to_string(k) + " must be of its level's size, not " + shape_text(t));
    }
  }
  const int64_t gh = levels.back().size(2), gw = levels.back().size(3);
  if (mem.size(1) < gh * gw)
    fail(kContext, "the memory has " + std::to_string(mem.size(1)) + " tokens, fewer than the " +
                       std::to_string(gh) + " × " + std::to_string(gw) + " grid of the coarsest level");
  at::Tensor p = mem.slice(1, 0, gh * gw).transpose(1, 2).reshape({b, width_, gh, gw});
  for (size_t k = 0; k < stages; ++k) {
    const nn::GroupNorm& norm = norms_[k];
    if (!skip_terms.empty()) {
      // Float32 and channels-last from the phases' kernel: normalized and clamped in place.
      p = convolve_upsampled(p, k, skip_terms[k]);
      kernels::group_norm_(p, norm.groups, norm.weight, norm.bias, norm.eps, /*relu=*/true);
    } else {
      const at::Tensor& skip = levels[levels.size() - 2 - k];
      const nn::Conv2d& conv = convs_[k];
      // F.interpolate(mode="nearest"): PyTorch's floor(dst · in / out) source index.
      // (a batch-1 level serves every phrase asked of one image).
      p = at::upsample_nearest2d(p, {skip.size(2), skip.size(3)});
      p.add_(skip.to(at::kFloat));
      p = norm(conv(as_conv_input(p, conv.weight)).to(at::kFloat));
      p.relu_();
    }
  }
  MaskDecoderOutput out;
  const int64_t h = p.size(2), w = p.size(3);
  const at::Tensor emb = embed_queries(queries);
  if (emb.size(0) != b)
    fail(kContext, "the queries are for " + std::to_string(emb.size(0)) + " images, the memory for " +
                       std::to_string(b));
  // einsum("bqc,bchw->bqhw", emb, instance_projection(p)) with the 1×1 projection folded into
  // the queries: emb·(W·p + bias) = (emb·W)·p + emb·bias, no C × h × w map per phrase.
  const at::Tensor projection = instance_proj_.weight.flatten(1).to(at::kFloat);  // C_out × C_in
  const int64_t q = emb.size(1);
  out.pred_masks = kernels::matmul(at::matmul(emb, projection), p.reshape({b, width_, h * w})).view({b, q, h, w});
  if (instance_proj_.bias.defined())
    out.pred_masks.add_(at::matmul(emb, instance_proj_.bias.to(at::kFloat)).view({b, q, 1, 1}));
  out.semantic_seg = semantic_proj_(p);
  return out;
}

void MaskDecoder::use_bfloat16() {
  for (nn::Conv2d& conv : convs_) {
    conv.weight = conv.weight.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    if (conv.bias.defined()) conv.bias = conv.bias.to(at::kBFloat16);
  }
  for (at::Tensor& k : phase_weights_) k = k.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace segkit::sam3
