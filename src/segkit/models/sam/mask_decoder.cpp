#include "models/sam/mask_decoder.h"

#include <ATen/ops/any.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/stack.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "kernels/aten_path.h"
#include "kernels/cpu/matmul.h"
#include "models/sam/factored_transformer.h"

namespace segkit::sam {

void TwoWayBlock::attend_among_tokens(at::Tensor& queries, const at::Tensor& query_pe) const {
  if (skip_first_layer_pe) {
    queries = self_attn(queries, queries, queries);
  } else {
    at::Tensor q = queries + query_pe;
    queries = queries + self_attn(q, q, queries);
  }
  queries = norm1(queries);
}

void TwoWayBlock::mlp(at::Tensor& queries) const { queries = norm3(queries + lin2(at::relu(lin1(queries)))); }

void TwoWayBlock::forward(at::Tensor& queries, at::Tensor& keys, const at::Tensor& query_pe, const at::Tensor& key_pe) const {
  attend_among_tokens(queries, query_pe);
  // The keys stay as they are until the last step: their positional sum serves both attentions.
  const at::Tensor k = keys + key_pe;
  at::Tensor q = queries + query_pe;
  queries = norm2(queries + token_to_image(q, k, keys));
  mlp(queries);
  q = queries + query_pe;
  keys = norm4(keys + image_to_token(k, q, queries));
}

TwoWayTransformer TwoWayTransformer::load(const nn::WeightMap& w, const SamConfig& c) {
  TwoWayTransformer t;
  const std::string base = "mask_decoder.transformer.";
  // Upstream's transformer uses nn.LayerNorm's default epsilon.
  const double eps = 1e-5;
  for (int i = 0; i < c.decoder_depth; ++i) {
    const std::string p = base + "layers." + std::to_string(i);
    TwoWayBlock b;
    b.self_attn = Attention::load(w, p + ".self_attn", c.decoder_heads);
    b.token_to_image = Attention::load(w, p + ".cross_attn_token_to_image", c.decoder_heads);
    b.image_to_token = Attention::load(w, p + ".cross_attn_image_to_token", c.decoder_heads);
    b.norm1 = nn::LayerNorm::load(w, p + ".norm1", eps);
    b.norm2 = nn::LayerNorm::load(w, p + ".norm2", eps);
    b.norm3 = nn::LayerNorm::load(w, p + ".norm3", eps);
    b.norm4 = nn::LayerNorm::load(w, p + ".norm4", eps);
    b.lin1 = nn::Linear::load(w, p + ".mlp.lin1");
    b.lin2 = nn::Linear::load(w, p + ".mlp.lin2");
    b.skip_first_layer_pe = (i == 0);
    t.layers.push_back(std::move(b));
  }
  t.final_attn = Attention::load(w, base + "final_attn_token_to_image", c.decoder_heads);
  t.norm_final = nn::LayerNorm::load(w, base + "norm_final_attn", eps);
  return t;
}

at::Tensor select_tokens(const at::Tensor& tokens, const std::vector<int64_t>& which) {
  if (which.empty()) return tokens;
  // Runs of consecutive tokens as slices.
  std::vector<at::Tensor> runs;
  for (size_t i = 0; i < which.size();) {
    size_t j = i + 1;
    while (j < which.size() && which[j] == which[j - 1] + 1) ++j;
    runs.push_back(tokens.slice(1, which[i], which[j - 1] + 1));
    i = j;
  }
  return runs.size() == 1 ? runs[0] : at::cat(runs, 1);
}

std::pair<at::Tensor, at::Tensor> TwoWayTransformer::forward(const at::Tensor& image, const at::Tensor& image_pe,
                                                             const at::Tensor& tokens,
                                                             const std::vector<int64_t>& outputs) const {
  // Image and positions may have batch 1 (shared by all prompts); keys become per-prompt at
  // the first image-to-token update.
  at::Tensor keys = image.flatten(2).permute({0, 2, 1}).contiguous();
  at::Tensor key_pe = image_pe.flatten(2).permute({0, 2, 1}).contiguous();
  at::Tensor queries = tokens;
  for (const auto& layer : layers) layer.forward(queries, keys, tokens, key_pe);
  // The final attention and norm treat each token on its own: only the wanted ones are computed.
  queries = select_tokens(queries, outputs);
  at::Tensor q = queries + select_tokens(tokens, outputs), k = keys + key_pe;
  queries = norm_final(queries + final_attn(q, k, keys));
  if (keys.size(0) != queries.size(0)) keys = keys.expand({queries.size(0), -1, -1});  // no layers at all
  return {queries, keys};
}

MaskDecoder MaskDecoder::load(const nn::WeightMap& w, const SamConfig& c) {
  MaskDecoder d;
  const int64_t C = c.out_chans;
  d.transformer = TwoWayTransformer::load(w, c);
  d.iou_token = w.get("mask_decoder.iou_token.weight", {1, C});
  d.mask_tokens = w.get("mask_decoder.mask_tokens.weight", {c.num_multimask_outputs + 1, C});
  d.upscale1 = SubpixelLinear(nn::ConvTranspose2d::load(w, "mask_decoder.output_upscaling.0", 2));
  w.get("mask_decoder.output_upscaling.0.weight", {C, C / 4, 2, 2});
  d.upscale_norm = nn::LayerNorm2d::load(w, "mask_decoder.output_upscaling.1");
  d.upscale2 = SubpixelLinear(nn::ConvTranspose2d::load(w, "mask_decoder.output_upscaling.3", 2));
  w.get("mask_decoder.output_upscaling.3.weight", {C / 4, C / 8, 2, 2});
  for (int i = 0; i < c.num_multimask_outputs + 1; ++i)
    d.hypernetworks.push_back(nn::Mlp::load(w, "mask_decoder.output_hypernetworks_mlps." + std::to_string(i)));
  d.iou_head = nn::Mlp::load(w, "mask_decoder.iou_prediction_head");
  return d;
}

SubpixelLinear::SubpixelLinear(const nn::ConvTranspose2d& conv)
    : weight(conv.weight.permute({2, 3, 1, 0}).reshape({4 * conv.weight.size(1), conv.weight.size(0)})),
      bias(conv.bias.repeat({4})),
      out_channels(conv.weight.size(1)) {}

namespace {

// Rows of the image-token grid upscaled at a time: 16 rows of 64 keep a block's largest
// intermediate (the 4×-upscaled 32 channels) at 2 MB. (4 or 8 rows measured slower: the
// per-operation overheads outweigh the cache; 16 to 64 rows measured alike.)
constexpr int64_t kGridRowsPerBlock = 16;

// Prompts decoded together. Each prompt carries its own 4096×256 image tokens through the
// transformer (4 MB); in chunks of 8 the temporaries are reused from the allocator's cache,
// whereas a whole batch of 64 made 256 MB temporaries that page-faulted at every step (2.2×
// slower end to end on segment-everything).
constexpr int64_t kPromptChunk = 8;

// With many prompts on one image, the transformer keeps each prompt's image tokens factored
// (factored_transformer.h); its shared part costs about as much as two or three prompts of the
// plain one, and is kept for the next call on the same image.
constexpr int64_t kFactoredFromPrompts = 4;
constexpr int64_t kFactoredChunk = 16;

// Mask values of grid cells (i, j) with sub-pixels (di, dj) then (ei, ej), K values each, to
// pixel (4i + 2di + ei, 4j + 2dj + ej) of K planes of 4w columns (planes `plane` floats apart).
void scatter_subpixels(const float* m, int64_t rows, int64_t w, int64_t K, float* out, int64_t plane) {
  const int64_t width = 4 * w;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < w; ++j)
      for (int64_t s = 0; s < 16; ++s, m += K) {
        const int64_t di = s >> 3, dj = (s >> 2) & 1, ei = (s >> 1) & 1, ej = s & 1;
        const int64_t y = 4 * i + 2 * di + ei, x = 4 * j + 2 * dj + ej;
        for (int64_t k = 0; k < K; ++k) out[k * plane + y * width + x] = m[k];
      }
}

// The prompts (rows of iou) with any mask predicted above the threshold (the same comparison
// as the generator's filter: a float tensor against a double scalar).
std::vector<int64_t> prompts_above(const at::Tensor& iou, double threshold) {
  const at::Tensor any = at::gt(iou, threshold).any(1).to(at::kCPU).contiguous();
  const bool* passes = any.data_ptr<bool>();
  std::vector<int64_t> index;
  for (int64_t b = 0; b < any.size(0); ++b)
    if (passes[b]) index.push_back(b);
  return index;
}

// `index` as a tensor on `device`.
at::Tensor index_tensor(std::vector<int64_t>& index, const at::Device& device) {
  return at::from_blob(index.data(), {static_cast<int64_t>(index.size())}, at::kLong).to(device);
}

}  // namespace

struct MaskDecoder::FactoredImage {
  FactoredTransformer transformer;
  at::Tensor upscaled_z;  // the transformer's final shared part through upscale1's weight (no bias)
};

struct MaskDecoder::FactoredCache {
  std::mutex lock;
  const TwoWayTransformer* owner = nullptr;
  at::Tensor image, image_pe;
  std::shared_ptr<const FactoredImage> factored;
};

std::pair<at::Tensor, at::Tensor> MaskDecoder::forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe,
                                                       const at::Tensor& sparse, const at::Tensor& dense, bool multimask,
                                                       double masks_if_iou_above) const {
  const int64_t B = sparse.size(0), h = image_embeddings.size(2), w = image_embeddings.size(3);
  // Without mask inputs the dense embedding is one vector for every prompt: keep the image
  // side at batch 1 instead of copying it per prompt (upstream repeat_interleave).
  const bool shared_dense = dense.size(0) == 1 || dense.stride(0) == 0;
  const at::Tensor src = image_embeddings + (shared_dense ? dense.slice(0, 0, 1) : dense);
  // The IoU token and the returned masks' tokens (the final attention treats each on its own).
  const auto [first, K] = returned_masks(multimask);
  std::vector<int64_t> outputs{0};
  for (int i = first; i < first + K; ++i) outputs.push_back(1 + i);
  const std::vector<int64_t> mask_outputs(outputs.begin() + 1, outputs.end());
  const bool filtering = masks_if_iou_above > -std::numeric_limits<double>::infinity();

  // Chunks of prompts write their IoU predictions and masks straight into the call's output;
  // with a filter, the masks of prompts that fail it stay NaN.
  const at::Tensor masks = at::empty({B, K, 4 * h, 4 * w}, src.options());
  const at::Tensor iou = at::empty({B, K}, src.options());
  if (filtering) masks.fill_(std::numeric_limits<float>::quiet_NaN());
  auto in_chunks = [&](int64_t chunk, const auto& decode_chunk) {
    for (int64_t b0 = 0; b0 < B; b0 += chunk) {
      const int64_t b1 = std::min(B, b0 + chunk);
      decode_chunk(b0, b1, masks.slice(0, b0, b1), iou.slice(0, b0, b1));
    }
    return std::make_pair(masks, iou);
  };
  // The prompts (of a chunk) whose masks are made: those with a mask above the filter, or all.
  auto kept_prompts = [&](const at::Tensor& chunk_iou) {
    if (filtering) return prompts_above(chunk_iou, masks_if_iou_above);
    std::vector<int64_t> all(static_cast<size_t>(chunk_iou.size(0)));
    for (size_t b = 0; b < all.size(); ++b) all[b] = static_cast<int64_t>(b);
    return all;
  };

  if (shared_dense && B >= kFactoredFromPrompts && src.scalar_type() == at::kFloat && kernels::hand_written_path({&src})) {
    const auto factored = factored_for(src[0], image_pe[0]);
    const FactoredTransformer& transformer = factored->transformer;
    // The first upscaling layer is linear in the tokens: it maps the prompt's basis (n vectors)
    // instead of its N tokens, and the shared part was mapped once per image.
    auto upscaler_for = [&](const FactoredImageTokens& image_tokens) -> UpscalerOf {
      return [&](int64_t b) -> UpscaledRows {
        at::Tensor basis_mapped;
        if (image_tokens.coeffs.defined()) basis_mapped = kernels::linear(image_tokens.basis[b], upscale1.weight, at::Tensor());
        return [&, b, basis_mapped](int64_t r0, int64_t r1) {
          return image_tokens.mapped_rows(b, r0 * w, r1 * w, factored->upscaled_z, basis_mapped, upscale1.bias)
              .view({r1 - r0, w, -1});
        };
      };
    };
    return in_chunks(kFactoredChunk, [&](int64_t b0, int64_t b1, const at::Tensor& chunk_masks, const at::Tensor& chunk_iou) {
      const at::Tensor tokens = prompt_tokens(sparse.slice(0, b0, b1));
      const auto [queries, image_tokens] = transformer.run_layers(tokens);
      if (!filtering) {
        const at::Tensor hs = transformer.final_tokens(queries, tokens, image_tokens, outputs);
        chunk_iou.copy_(iou_predictions(hs.select(1, 0), multimask));
        upscale_masks(upscaler_for(image_tokens), h, w, hyper_inputs(hs.slice(1, 1), multimask), chunk_masks);
        return;
      }
      // The IoU token first: the prompts none of whose masks pass the filter need no mask tokens.
      chunk_iou.copy_(iou_predictions(transformer.final_tokens(queries, tokens, image_tokens, {0}).select(1, 0), multimask));
      std::vector<int64_t> index = kept_prompts(chunk_iou);
      if (index.empty()) return;
      const bool all = static_cast<int64_t>(index.size()) == b1 - b0;
      const at::Tensor i = index_tensor(index, src.device());
      const FactoredImageTokens kept_tokens = all ? image_tokens : image_tokens.prompts(i);
      const at::Tensor hs = transformer.final_tokens(all ? queries : queries.index_select(0, i),
                                                     all ? tokens : tokens.index_select(0, i), kept_tokens, mask_outputs);
      upscale_masks(upscaler_for(kept_tokens), h, w, hyper_inputs(hs, multimask), chunk_masks, index);
    });
  }
  return in_chunks(kPromptChunk, [&](int64_t b0, int64_t b1, const at::Tensor& chunk_masks, const at::Tensor& chunk_iou) {
    auto [hs, image_tokens] = transformer.forward(shared_dense ? src : src.slice(0, b0, b1), image_pe,
                                                  prompt_tokens(sparse.slice(0, b0, b1)), outputs);
    chunk_iou.copy_(iou_predictions(hs.select(1, 0), multimask));
    std::vector<int64_t> index = kept_prompts(chunk_iou);
    const at::Tensor hyper_in = hyper_inputs(hs.slice(1, 1), multimask);
    auto upscaler = [&, &image_tokens = image_tokens](int64_t j) -> UpscaledRows {
      const at::Tensor grid = image_tokens[index[size_t(j)]].view({h, w, -1});
      return [this, grid](int64_t r0, int64_t r1) {
        return kernels::linear(grid.slice(0, r0, r1), upscale1.weight, upscale1.bias);
      };
    };
    const at::Tensor i = index_tensor(index, src.device());
    upscale_masks(upscaler, h, w, hyper_in.index_select(0, i), chunk_masks, index);
  });
}

std::shared_ptr<MaskDecoder::FactoredCache> MaskDecoder::new_factored_cache() { return std::make_shared<FactoredCache>(); }

std::shared_ptr<const MaskDecoder::FactoredImage> MaskDecoder::factored_for(const at::Tensor& image,
                                                                            const at::Tensor& image_pe) const {
  FactoredCache& cache = *factored_cache_;
  std::lock_guard<std::mutex> guard(cache.lock);
  const bool same = cache.factored && cache.owner == &transformer && cache.image.sizes() == image.sizes() &&
                    cache.image_pe.sizes() == image_pe.sizes() && cache.image.equal(image) && cache.image_pe.equal(image_pe);
  if (!same) {
    // The factored transformer takes the image as tokens, N×C.
    FactoredTransformer factored(transformer, image.flatten(1).t().contiguous(), image_pe.flatten(1).t().contiguous());
    at::Tensor upscaled_z = kernels::linear(factored.final_z(), upscale1.weight, at::Tensor());
    cache.factored = std::make_shared<const FactoredImage>(FactoredImage{std::move(factored), std::move(upscaled_z)});
    cache.owner = &transformer;
    cache.image = image;
    cache.image_pe = image_pe;
  }
  return cache.factored;
}

at::Tensor MaskDecoder::prompt_tokens(const at::Tensor& sparse) const {
  at::Tensor output_tokens = at::cat({iou_token, mask_tokens}, 0).unsqueeze(0).expand({sparse.size(0), -1, -1});
  return at::cat({output_tokens, sparse}, 1);
}

at::Tensor MaskDecoder::iou_predictions(const at::Tensor& iou_token_out, bool multimask) const {
  const auto [first, K] = returned_masks(multimask);
  return iou_head(iou_token_out).slice(1, first, first + K);
}

at::Tensor MaskDecoder::hyper_inputs(const at::Tensor& mask_tokens_out, bool multimask) const {
  const int first = returned_masks(multimask).first;
  std::vector<at::Tensor> hyper;
  for (int64_t i = 0; i < mask_tokens_out.size(1); ++i)
    hyper.push_back(hypernetworks[size_t(first + i)](mask_tokens_out.select(1, i)));
  return at::stack(hyper, 1);
}

// Output upscaling (transposed convolution, LayerNorm2d, GELU, transposed convolution, GELU)
// and the hypernetwork product, a block of grid rows of one prompt at a time, written straight
// into the mask planes.
void MaskDecoder::upscale_masks(const UpscalerOf& upscaler_of, int64_t h, int64_t w, const at::Tensor& hyper_in,
                                const at::Tensor& out, const std::vector<int64_t>& out_rows) const {
  const int64_t B = hyper_in.size(0), K = hyper_in.size(1);
  const int64_t c1 = upscale1.out_channels, c2 = upscale2.out_channels;
  // Blocks of rows keep a CPU's intermediates in cache; a GPU takes the whole grid at once.
  const int64_t rows = kernels::hand_written_path({&hyper_in}) ? kGridRowsPerBlock : h;
  for (int64_t b = 0; b < B; ++b) {
    const at::Tensor target = out[out_rows.empty() ? b : out_rows[size_t(b)]];  // K×4h×4w, contiguous
    const UpscaledRows upscaled_rows = upscaler_of(b);
    for (int64_t r0 = 0; r0 < h; r0 += rows) {
      const int64_t r1 = std::min(h, r0 + rows);
      at::Tensor up = upscaled_rows(r0, r1);  // rows×w×(2·2·c1)
      up = at::layer_norm(up.view({-1, c1}), {c1}, upscale_norm.weight, upscale_norm.bias, upscale_norm.eps);
      at::gelu_(up);
      up = kernels::linear(up, upscale2.weight, upscale2.bias);  // (rows·w·2·2)×(2·2·c2)
      at::gelu_(up);
      const at::Tensor m = kernels::matmul(up.view({-1, c2}), hyper_in[b].transpose(0, 1));
      if (kernels::hand_written_path({&m, &target})) {
        scatter_subpixels(m.data_ptr<float>(), r1 - r0, w, K, target.data_ptr<float>() + 4 * r0 * 4 * w, 4 * h * 4 * w);
      } else {  // the same placement as a view: (i, j, di, dj, ei, ej, k) → (k, 4i + 2di + ei, 4j + 2dj + ej)
        target.slice(1, 4 * r0, 4 * r1)
            .copy_(m.view({r1 - r0, w, 2, 2, 2, 2, K}).permute({6, 0, 2, 4, 1, 3, 5}).reshape({K, 4 * (r1 - r0), 4 * w}));
      }
    }
  }
}

}  // namespace segkit::sam
