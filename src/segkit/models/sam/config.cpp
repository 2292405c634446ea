#include "models/sam/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/json_fields.h"
#include "segkit/error.h"

namespace segkit {

std::string SamConfig::describe() const {
  std::ostringstream o;
  o << "SAM ViT dim " << encoder_dim << ", depth " << encoder_depth << ", heads " << encoder_heads << ", window "
    << window_size << ", global blocks [";
  for (size_t i = 0; i < global_attn_indexes.size(); ++i) o << (i ? "," : "") << global_attn_indexes[i];
  o << "], image " << image_size << ", patch " << patch_size << ", prompt dim " << out_chans << ", decoder heads "
    << decoder_heads;
  return o.str();
}

}  // namespace segkit

namespace segkit::sam {

namespace {

// Config files come from strangers: every value is type- and range-checked (core/json_fields.h)
// and against the weights below, so that no wrong one reaches the network code.
constexpr const char* kConfig = "config.json";
constexpr const char* kPreprocessor = "preprocessor_config.json";
constexpr int64_t kMaxCount = 1 << 16;  // heads, window sizes, block indexes

}  // namespace

SamConfig infer_config(const nn::WeightMap& w, const nlohmann::json* hf, const nlohmann::json* pre) {
  SamConfig c;
  // The first dimension of a tensor that must have one (a 0-d tensor would throw from ATen).
  auto size0 = [&w](const std::string& name) {
    const at::Tensor& t = w.get(name);
    if (t.dim() < 1 || t.size(0) > INT32_MAX)
      fail(w.source(), "tensor '" + name + "' has an impossible shape for a SAM weight");
    return t.size(0);
  };
  const at::Tensor& pos = w.get("image_encoder.pos_embed");
  const at::Tensor& patch = w.get("image_encoder.patch_embed.proj.weight");
  if (pos.dim() != 4 || pos.size(1) != pos.size(2))
    fail(w.source(), "tensor 'image_encoder.pos_embed' should be 1×g×g×C");
  if (patch.dim() != 4 || patch.size(2) != patch.size(3))
    fail(w.source(), "tensor 'image_encoder.patch_embed.proj.weight' should be C×3×p×p");
  const int g = static_cast<int>(pos.size(1));
  c.patch_size = static_cast<int>(patch.size(2));
  c.image_size = g * c.patch_size;
  c.encoder_dim = static_cast<int>(pos.size(3));
  c.encoder_depth = w.count_indexed("image_encoder.blocks.");
  if (c.encoder_depth == 0) w.get("image_encoder.blocks.0.attn.qkv.weight");

  const nlohmann::json* vision = hf && hf->contains("vision_config") ? &(*hf)["vision_config"] : nullptr;
  const nlohmann::json* decoder = hf && hf->contains("mask_decoder_config") ? &(*hf)["mask_decoder_config"] : nullptr;

  // Windowed blocks store (2·window−1) relative positions, global ones (2·g−1).
  c.global_attn_indexes.clear();
  int window = 0;
  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string p = "image_encoder.blocks." + std::to_string(i) + ".attn.";
    if (!w.contains(p + "rel_pos_h")) continue;
    const int len = static_cast<int>(size0(p + "rel_pos_h"));
    if (len == 2 * g - 1) {
      c.global_attn_indexes.push_back(i);
    } else {
      if (len % 2 == 0 || (window && window != (len + 1) / 2))
        fail(w.source(), "tensor '" + p + "rel_pos_h' has " + std::to_string(len) + " rows, which fits neither the window nor the global size");
      window = (len + 1) / 2;
    }
  }
  c.window_size = window;
  read_optional(vision, kConfig, "num_attention_heads", c.encoder_heads, 1, kMaxCount);
  const std::string rel0 = "image_encoder.blocks.0.attn.rel_pos_h";
  // Pruned encoders (SlimSAM) narrow the attention per block; the relative-position tables
  // give the head width, so head counts come from the shapes.
  if (w.contains(rel0)) {
    const int64_t attn_dim = size0("image_encoder.blocks.0.attn.qkv.weight") / 3;
    const at::Tensor& rel = w.get(rel0);
    if (rel.dim() != 2 || rel.size(1) <= 0 || attn_dim % rel.size(1) != 0)
      fail(w.source(), "tensor '" + rel0 + "' should be L×(head width), with the width dividing the attention width");
    c.encoder_heads = static_cast<int>(attn_dim / rel.size(1));
  } else {
    // No relative positions: read the config (window and global blocks too), else ViT-style 64-wide heads.
    if (!vision) c.encoder_heads = std::max(1, c.encoder_dim / 64);
    read_optional(vision, kConfig, "window_size", c.window_size, 0, kMaxCount);
    read_optional(vision, kConfig, "global_attn_indexes", c.global_attn_indexes, 0, std::max(0, c.encoder_depth - 1));
    if (c.encoder_heads <= 0 || c.encoder_dim % c.encoder_heads != 0)
      fail(w.source(), "cannot split encoder width " + std::to_string(c.encoder_dim) + " into " + std::to_string(c.encoder_heads) + " heads");
  }

  c.out_chans = static_cast<int>(size0("image_encoder.neck.0.weight"));
  c.mask_in_chans = static_cast<int>(size0("prompt_encoder.mask_downscaling.3.weight"));
  c.decoder_depth = w.count_indexed("mask_decoder.transformer.layers.");
  c.decoder_mlp_dim = static_cast<int>(size0("mask_decoder.transformer.layers.0.mlp.lin1.weight"));
  c.num_multimask_outputs = static_cast<int>(size0("mask_decoder.mask_tokens.weight")) - 1;
  c.iou_head_depth = w.count_indexed("mask_decoder.iou_prediction_head.layers.");
  c.iou_head_hidden_dim = static_cast<int>(size0("mask_decoder.iou_prediction_head.layers.0.weight"));
  // Head counts leave no trace in tensor shapes. Every published SAM decoder uses 8 heads;
  // narrower (distilled or test) decoders keep at least 8 channels per head.
  c.decoder_heads = std::max(1, std::min(8, c.out_chans / 8));
  read_optional(decoder, kConfig, "num_attention_heads", c.decoder_heads, 1, kMaxCount);
  // The decoder's cross attention halves the width before splitting it into heads.
  if (c.out_chans % c.decoder_heads != 0 || (c.out_chans / 2) % c.decoder_heads != 0)
    fail(kConfig, "cannot split the decoder width " + std::to_string(c.out_chans) + " into " +
                      std::to_string(c.decoder_heads) + " heads");

  if (pre && pre->is_object()) {
    std::vector<double> mean, std_;
    read_optional(pre, kPreprocessor, "image_mean", mean);
    read_optional(pre, kPreprocessor, "image_std", std_);
    double rescale = 1.0 / 255.0;
    read_optional(pre, kPreprocessor, "rescale_factor", rescale);
    if (!(rescale > 0)) fail(kPreprocessor, "\"rescale_factor\" must be positive");
    for (double s : std_)
      if (!(s > 0)) fail(kPreprocessor, "\"image_std\" values must be positive");
    // HF stores upstream's ImageNet constants divided by 255; where they are those constants,
    // keep upstream's exact values so that both checkpoint formats compute the same bits.
    auto pick = [](double value, float upstream) {
      return std::abs(value - upstream) < 1e-4 ? upstream : static_cast<float>(value);
    };
    if (mean.size() == 3 && std_.size() == 3)
      for (int i = 0; i < 3; ++i) {
        c.pixel_mean[i] = pick(mean[i] / rescale, c.pixel_mean[i]);
        c.pixel_std[i] = pick(std_[i] / rescale, c.pixel_std[i]);
      }
  }
  return c;
}

}  // namespace segkit::sam
