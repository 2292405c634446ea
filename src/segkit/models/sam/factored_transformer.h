#pragma once
// The mask decoder's two-way transformer for many prompts on one image, with every prompt's
// image tokens kept in factored form instead of as N×C floats each.
//
// All prompts start from the same image tokens X0 (N×C). An image-to-token attention adds to
// each token a mix of the prompt's H·T value vectors (H heads, T prompt tokens), and the
// LayerNorm after it scales and shifts each token. So after any number of layers, prompt b's
// token n is exactly
//     X[b,n] = a[b,n]·Z[n] + Σₖ D[b,k,n]·V[b,k]
// where Z = X0 ⊙ (the product of the norms' weights so far) is shared by every prompt, and
// V holds H·(T−1) + 3 vectors per layer (the attention's values through its output projection,
// each head's last token's taken out of its others' since a head's weights sum to 1, their
// common part, the norm's weight and bias). Every product of the tokens with a projection then
// splits into a product with Z, computed once per image, and one with the per-prompt
// coefficients D; the norms' statistics follow from Gram matrices of V and dot products of Z's
// rows with V. This is the same function as TwoWayTransformer::forward up to float rounding, at
// about half of its operations per prompt, and no prompt's work touches an N×C array.
#include <ATen/core/Tensor.h>

#include <utility>
#include <vector>

#include "models/sam/mask_decoder.h"

namespace segkit::sam {

// A batch of prompts' image tokens in the factored form above.
struct FactoredImageTokens {
  at::Tensor z;       // N×C, shared by every prompt
  at::Tensor scale;   // B×N (a); undefined while it is 1
  at::Tensor coeffs;  // B×n×N (D); undefined while n = 0
  at::Tensor basis;   // B×n×C (V)
  // Prompt b's tokens, N×C.
  at::Tensor materialize(int64_t b) const;
  // The prompts listed in `index` (an int64 tensor), in that order.
  FactoredImageTokens prompts(const at::Tensor& index) const;
  // Prompt b's tokens [t0, t1) through a linear map, (t1−t0)×O, from the map's products with
  // the shared part and with the prompt's basis: z_mapped = z·weightᵀ (N×O, shared by every
  // prompt), basis_mapped = basis[b]·weightᵀ (n×O; undefined while n = 0), bias (O) or undefined.
  // About n/C of the product with the materialized tokens.
  at::Tensor mapped_rows(int64_t b, int64_t t0, int64_t t1, const at::Tensor& z_mapped, const at::Tensor& basis_mapped,
                         const at::Tensor& bias) const;
};

class FactoredTransformer {
 public:
  // image and image_pe: N×C float tensors shared by the prompts of every later forward call.
  // The shared products are computed here, once.
  FactoredTransformer(const TwoWayTransformer& transformer, const at::Tensor& image, const at::Tensor& image_pe);

  // tokens: B×T×C → (the tokens listed in `outputs` (all when empty), B×|outputs|×C; the image
  // tokens).
  std::pair<at::Tensor, FactoredImageTokens> forward(const at::Tensor& tokens, const std::vector<int64_t>& outputs) const;
  // The same in two steps. The layers: tokens → (every prompt token after the last layer,
  // B×T×C; the image tokens).
  std::pair<at::Tensor, FactoredImageTokens> run_layers(const at::Tensor& tokens) const;
  // The final attention to the image and its norm, for the tokens listed in `outputs` (all when
  // empty) of the layers' output `queries` and image tokens `x` (tokens: the same prompts' input
  // tokens, B×T×C) → B×|outputs|×C. Each token is attended on its own, so outputs may be asked
  // for in parts, and for a subset of the prompts.
  at::Tensor final_tokens(const at::Tensor& queries, const at::Tensor& tokens, const FactoredImageTokens& x,
                          const std::vector<int64_t>& outputs) const;

  // The shared part z of every forward call's image tokens, N×C.
  const at::Tensor& final_z() const { return layers_.empty() ? image_ : layers_.back().next_z; }

  // The image side of a tokens-to-image attention: the keys' and values' projections of Z, per
  // head and transposed (H×d×N), and of the positional encodings (undefined when folded into
  // the keys', where the tokens are still Z itself).
  struct ImageSide {
    at::Tensor keys, keys_pe, values;  // H×d×N, H×d×N, H×N×d
  };
  // The shared terms of a norm after an image-to-tokens attention: Z's row means and the
  // squared norms of its centred rows, and per group of basis vectors (in V's order) the dot
  // products of the centred rows with the group: a per-head projection H×d×N for value groups
  // (undefined for a single shared vector), and per row the dot product with the output bias
  // (value groups) or with the vector, N.
  struct NormSide {
    at::Tensor mean, centred_sq;
    std::vector<at::Tensor> group_proj, group_offset;
    std::vector<int> group_layer;  // the layer whose values a group holds; −1 for shared vectors
  };
  struct LayerSide {
    ImageSide to_image;                  // token_to_image
    at::Tensor from_image, from_image_pe;  // image_to_token's query projections of Z and pe (+ bias), H×d×N
    NormSide norm;                       // norm4
    at::Tensor next_z;                   // Z ⊙ norm4's weight
  };

 private:
  const TwoWayTransformer& transformer_;
  at::Tensor image_;
  std::vector<LayerSide> layers_;
  ImageSide final_;
};

}  // namespace segkit::sam
