#pragma once
// SAM 3's ViT backbone (transformers' Sam3ViTModel): a patch convolution without bias, the
// pretraining position table tiled over the grid, a layer norm before the blocks ("ln_pre"),
// then pre-norm blocks with windowed or global attention and axial RoPE, and no final norm.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/sam3/config.h"
#include "models/sam3/rope.h"
#include "nn/layers.h"
#include "nn/weight_map.h"

namespace segkit::sam3 {

struct ViTLayer {
  nn::LayerNorm norm1, norm2;
  nn::Linear qkv;  // q_proj, k_proj, v_proj stacked
  nn::Linear o_proj, fc1, fc2;
  int64_t heads = 0;
  int64_t window = 0;  // 0: global attention over the whole grid
  AxialRope rope;
  // The products' type: float32, or bfloat16 after prepare_products (norms, RoPE, softmax and
  // the residual sums stay float32).
  at::ScalarType compute = at::kFloat;
  bool allow_fused = true;  // false: the products and softmax even where the fused kernel runs

  static ViTLayer load(const nn::WeightMap& w, const std::string& prefix, const ViTConfig& config, int index);
  // The four linear layers in `type` (bfloat16: converted), packed for `tokens`-row inputs
  // (nn::Linear::prepare).
  void prepare_products(at::ScalarType type, int64_t tokens);
  // x: B × H × W × C → the same shape, a new tensor.
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  // Attention of tokens B' × N × C (N = side², windows or the whole grid) among themselves.
  at::Tensor attention(const at::Tensor& x) const;
  // The same for the whole B × H × W × C grid on the fused kernel (kernels/cpu/attention_fused.h),
  // where fuses(H, W, C, device).
  at::Tensor fused_attention(const at::Tensor& h) const;
  bool fuses(int64_t H, int64_t W, int64_t C, const at::Device& device) const;
};

struct ViTBackbone {
  ViTConfig config;
  at::Tensor patch_weight;        // C × 3 × patch × patch
  at::Tensor position_embedding;  // 1 × grid × grid × C, tiled from the pretraining table
  nn::LayerNorm ln_pre;
  std::vector<ViTLayer> layers;

  // `prefix` ends with a dot ("vision_encoder.backbone."). Error naming the tensor for a
  // missing one or one whose shape disagrees with the config.
  static ViTBackbone load(const nn::WeightMap& w, const std::string& prefix, const ViTConfig& config);
  // Every layer's products in `type`, their weights packed (ViTLayer::prepare_products).
  void prepare_products(at::ScalarType type);

  // Patch embedding plus position embedding: B × grid × grid × C (before ln_pre). Error for
  // pixel values that are not B × 3 × image_size × image_size float32.
  at::Tensor embed(const at::Tensor& pixel_values) const;
  // The last layer's output, B × grid × grid × C; every layer's output in `layer_outputs`
  // when given.
  at::Tensor operator()(const at::Tensor& pixel_values, std::vector<at::Tensor>* layer_outputs = nullptr) const;
};

}  // namespace segkit::sam3
