#include "models/sam/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

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
template <typename T>
void read_if(const nlohmann::json* j, const char* key, T& out) {
  if (j && j->is_object() && j->contains(key) && !(*j)[key].is_null()) out = (*j)[key].get<T>();
}
}  // namespace

SamConfig infer_config(const WeightMap& w, const nlohmann::json* hf, const nlohmann::json* pre) {
  SamConfig c;
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
    const int len = static_cast<int>(w.get(p + "rel_pos_h").size(0));
    if (len == 2 * g - 1) {
      c.global_attn_indexes.push_back(i);
    } else {
      if (len % 2 == 0 || (window && window != (len + 1) / 2))
        fail(w.source(), "tensor '" + p + "rel_pos_h' has " + std::to_string(len) + " rows, which fits neither the window nor the global size");
      window = (len + 1) / 2;
    }
  }
  c.window_size = window;
  read_if(vision, "num_attention_heads", c.encoder_heads);
  const std::string rel0 = "image_encoder.blocks.0.attn.rel_pos_h";
  // Pruned encoders (SlimSAM) narrow the attention per block; the relative-position tables
  // give the head width, so head counts come from the shapes.
  if (w.contains(rel0)) {
    const int64_t attn_dim = w.get("image_encoder.blocks.0.attn.qkv.weight").size(0) / 3;
    c.encoder_heads = static_cast<int>(attn_dim / w.get(rel0).size(1));
  } else {
    // No relative positions: read the config (window and global blocks too), else ViT-style 64-wide heads.
    if (!vision) c.encoder_heads = std::max(1, c.encoder_dim / 64);
    read_if(vision, "window_size", c.window_size);
    read_if(vision, "global_attn_indexes", c.global_attn_indexes);
    if (c.encoder_heads <= 0 || c.encoder_dim % c.encoder_heads != 0)
      fail(w.source(), "cannot split encoder width " + std::to_string(c.encoder_dim) + " into " + std::to_string(c.encoder_heads) + " heads");
  }

  c.out_chans = static_cast<int>(w.get("image_encoder.neck.0.weight").size(0));
  c.mask_in_chans = static_cast<int>(w.get("prompt_encoder.mask_downscaling.3.weight").size(0));
  c.decoder_depth = w.count_indexed("mask_decoder.transformer.layers.");
  c.decoder_mlp_dim = static_cast<int>(w.get("mask_decoder.transformer.layers.0.mlp.lin1.weight").size(0));
  c.num_multimask_outputs = static_cast<int>(w.get("mask_decoder.mask_tokens.weight").size(0)) - 1;
  c.iou_head_depth = w.count_indexed("mask_decoder.iou_prediction_head.layers.");
  c.iou_head_hidden_dim = static_cast<int>(w.get("mask_decoder.iou_prediction_head.layers.0.weight").size(0));
  // Head counts leave no trace in tensor shapes. Every published SAM decoder uses 8 heads;
  // narrower (distilled or test) decoders keep at least 8 channels per head.
  c.decoder_heads = std::max(1, std::min(8, c.out_chans / 8));
  read_if(decoder, "num_attention_heads", c.decoder_heads);

  if (pre && pre->is_object()) {
    std::vector<float> mean, std_;
    read_if(pre, "image_mean", mean);
    read_if(pre, "image_std", std_);
    double rescale = 1.0 / 255.0;
    read_if(pre, "rescale_factor", rescale);
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
