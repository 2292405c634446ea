#include "models/sam3/mask_decoder.h"

#include <ATen/ATen.h>

#include "kernels/cpu/matmul.h"
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

MaskDecoderOutput MaskDecoder::forward(const at::Tensor& queries, const std::vector<at::Tensor>& levels,
                                       const at::Tensor& memory, const Prompt& prompt) const {
  if (levels.size() < 2)
    fail(kContext, "needs at least two FPN levels (finer ones and the memory's), got " + std::to_string(levels.size()));
  // transformers runs one stage per level finer than the memory's, whatever num_upsampling_stages
  // says: with the three levels SAM 3 passes, conv_layers[2] / norms[2] stay unused.
  if (levels.size() - 1 > convs_.size())
    fail(kContext, std::to_string(levels.size()) + " FPN levels need " + std::to_string(levels.size() - 1) +
                       " upsampling stages; the model has " + std::to_string(convs_.size()));
  const at::Tensor mem = attend_prompt(memory, prompt);
  const int64_t b = mem.size(0);
  for (const at::Tensor& l : levels)
    if (!l.defined() || l.dim() != 4 || (l.size(0) != b && l.size(0) != 1) || l.size(1) != width_)
      fail(kContext, "each FPN level must be " + std::to_string(b) + " (or 1) × " + std::to_string(width_) +
                         " × height × width, not " + shape_text(l));
  const int64_t gh = levels.back().size(2), gw = levels.back().size(3);
  if (mem.size(1) < gh * gw)
    fail(kContext, "the memory has " + std::to_string(mem.size(1)) + " tokens, fewer than the " +
                       std::to_string(gh) + " × " + std::to_string(gw) + " grid of the coarsest level");
  at::Tensor p = mem.slice(1, 0, gh * gw).transpose(1, 2).reshape({b, width_, gh, gw});
  for (size_t k = 0; k + 1 < levels.size(); ++k) {
    const at::Tensor& skip = levels[levels.size() - 2 - k];
    // F.interpolate(mode="nearest"): PyTorch's floor(dst · in / out) source index.
    // (a batch-1 level serves every phrase asked of one image).
    p = at::upsample_nearest2d(p, {skip.size(2), skip.size(3)});
    p.add_(skip.to(at::kFloat));
    const nn::Conv2d& conv = convs_[k];
    p = norms_[k](conv.weight.scalar_type() == at::kFloat
                      ? conv(p)
                      : conv(p.to(conv.weight.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast)).to(at::kFloat));
    p.relu_();
  }
  MaskDecoderOutput out;
  const at::Tensor inst = instance_proj_(p);  // B × C × h × w
  const int64_t h = inst.size(2), w = inst.size(3);
  const at::Tensor emb = embed_queries(queries);
  if (emb.size(0) != b)
    fail(kContext, "the queries are for " + std::to_string(emb.size(0)) + " images, the memory for " +
                       std::to_string(b));
  // einsum("bqc,bchw->bqhw") as one product per image.
  out.pred_masks = kernels::matmul(emb, inst.reshape({b, width_, h * w})).view({b, emb.size(1), h, w});
  out.semantic_seg = semantic_proj_(p);
  return out;
}

void MaskDecoder::use_bfloat16() {
  for (nn::Conv2d& conv : convs_) {
    conv.weight = conv.weight.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    if (conv.bias.defined()) conv.bias = conv.bias.to(at::kBFloat16);
  }
}

}  // namespace segkit::sam3
