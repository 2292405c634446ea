#pragma once
// A full-size SAM checkpoint with random weights (official tensor names, safetensors), for
// benchmarks: the architecture's cost without downloading real weights.
#include <ATen/Context.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include <string>
#include <utility>
#include <vector>

#include "segkit/safetensors.h"

namespace segkit::bench {

struct SamSize {
  int encoder_dim, depth, heads;
  std::vector<int> global_blocks;
};
inline SamSize vit_b() { return {768, 12, 12, {2, 5, 8, 11}}; }

inline void write_random_sam(const std::string& path, const SamSize& size, uint64_t seed = 0) {
  at::manual_seed(seed);
  const int64_t D = size.encoder_dim, C = 256, grid = 64, window = 14, head = D / size.heads;
  std::vector<std::pair<std::string, at::Tensor>> t;
  auto weight = [&](const std::string& name, std::vector<int64_t> shape) { t.push_back({name, at::randn(shape).mul_(0.02)}); };
  auto bias = [&](const std::string& name, int64_t n) { t.push_back({name, at::randn({n}).mul_(0.02)}); };
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    weight(name + ".weight", {out, in});
    bias(name + ".bias", out);
  };
  auto norm = [&](const std::string& name, int64_t n) {
    t.push_back({name + ".weight", at::ones({n})});
    t.push_back({name + ".bias", at::zeros({n})});
  };
  auto attention = [&](const std::string& name, int64_t inner) {
    for (const char* p : {"q_proj", "k_proj", "v_proj"}) linear(name + "." + p, inner, C);
    linear(name + ".out_proj", C, inner);
  };

  weight("image_encoder.patch_embed.proj.weight", {D, 3, 16, 16});
  bias("image_encoder.patch_embed.proj.bias", D);
  weight("image_encoder.pos_embed", {1, grid, grid, D});
  for (int i = 0; i < size.depth; ++i) {
    const std::string b = "image_encoder.blocks." + std::to_string(i) + ".";
    bool global = false;
    for (int g : size.global_blocks) global |= g == i;
    norm(b + "norm1", D);
    linear(b + "attn.qkv", 3 * D, D);
    linear(b + "attn.proj", D, D);
    weight(b + "attn.rel_pos_h", {2 * (global ? grid : window) - 1, head});
    weight(b + "attn.rel_pos_w", {2 * (global ? grid : window) - 1, head});
    norm(b + "norm2", D);
    linear(b + "mlp.lin1", 4 * D, D);
    linear(b + "mlp.lin2", D, 4 * D);
  }
  weight("image_encoder.neck.0.weight", {C, D, 1, 1});
  norm("image_encoder.neck.1", C);
  weight("image_encoder.neck.2.weight", {C, C, 3, 3});
  norm("image_encoder.neck.3", C);

  t.push_back({"prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", at::randn({2, C / 2})});
  for (int i = 0; i < 4; ++i) weight("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight", {1, C});
  weight("prompt_encoder.not_a_point_embed.weight", {1, C});
  weight("prompt_encoder.no_mask_embed.weight", {1, C});
  weight("prompt_encoder.mask_downscaling.0.weight", {4, 1, 2, 2});
  bias("prompt_encoder.mask_downscaling.0.bias", 4);
  norm("prompt_encoder.mask_downscaling.1", 4);
  weight("prompt_encoder.mask_downscaling.3.weight", {16, 4, 2, 2});
  bias("prompt_encoder.mask_downscaling.3.bias", 16);
  norm("prompt_encoder.mask_downscaling.4", 16);
  weight("prompt_encoder.mask_downscaling.6.weight", {C, 16, 1, 1});
  bias("prompt_encoder.mask_downscaling.6.bias", C);

  for (int l = 0; l < 2; ++l) {
    const std::string b = "mask_decoder.transformer.layers." + std::to_string(l) + ".";
    attention(b + "self_attn", C);
    attention(b + "cross_attn_token_to_image", C / 2);
    attention(b + "cross_attn_image_to_token", C / 2);
    for (const char* n : {"norm1", "norm2", "norm3", "norm4"}) norm(b + n, C);
    linear(b + "mlp.lin1", 2048, C);
    linear(b + "mlp.lin2", C, 2048);
  }
  attention("mask_decoder.transformer.final_attn_token_to_image", C / 2);
  norm("mask_decoder.transformer.norm_final_attn", C);
  weight("mask_decoder.iou_token.weight", {1, C});
  weight("mask_decoder.mask_tokens.weight", {4, C});
  weight("mask_decoder.output_upscaling.0.weight", {C, C / 4, 2, 2});
  bias("mask_decoder.output_upscaling.0.bias", C / 4);
  norm("mask_decoder.output_upscaling.1", C / 4);
  weight("mask_decoder.output_upscaling.3.weight", {C / 4, C / 8, 2, 2});
  bias("mask_decoder.output_upscaling.3.bias", C / 8);
  for (int k = 0; k < 4; ++k) {
    const std::string b = "mask_decoder.output_hypernetworks_mlps." + std::to_string(k) + ".layers.";
    linear(b + "0", C, C);
    linear(b + "1", C, C);
    linear(b + "2", C / 8, C);
  }
  linear("mask_decoder.iou_prediction_head.layers.0", C, C);
  linear("mask_decoder.iou_prediction_head.layers.1", C, C);
  linear("mask_decoder.iou_prediction_head.layers.2", 4, C);

  std::vector<TensorRef> refs;
  for (auto& [name, tensor] : t) {
    tensor = tensor.contiguous();
    refs.push_back({name, DType::F32, tensor.sizes().vec(), tensor.data_ptr()});
  }
  write_safetensors(path, refs);
}

}  // namespace segkit::bench
