// The decoder's factored transformer (many prompts on one image, factored_transformer.h) is the
// same function as the plain two-way transformer: checked on random decoders of several depths
// and head counts, with random norms and biases, prompt tokens and image tokens both.
#include <ATen/ops/cat.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>

#include "models/sam/factored_transformer.h"
#include "models/sam/random_checkpoint.h"
#include "models/sam/sam_model_impl.h"
#include "sam_fixtures.h"
#include "test_util.h"

using namespace segkit;

TEST(FactoredTransformer, EqualsThePlainTransformerAtEveryDepth) {
  c10::InferenceMode guard;
  for (const auto& [depth, heads] : {std::pair{1, 2}, std::pair{2, 4}, std::pair{3, 8}}) {
    SCOPED_TRACE("depth " + std::to_string(depth) + ", " + std::to_string(heads) + " heads");
    SamConfig c;  // a small decoder; the encoder is not used here
    c.image_size = 128;
    c.encoder_dim = 32;
    c.encoder_depth = 1;
    c.encoder_heads = 2;
    c.window_size = 4;
    c.global_attn_indexes = {0};
    c.out_chans = 32;
    c.decoder_depth = depth;
    c.decoder_heads = heads;
    c.decoder_mlp_dim = 48;
    c.iou_head_hidden_dim = 24;
    test::TempDir dir;
    sam::write_random_checkpoint(dir.file("m"), c, 11 + uint64_t(depth));
    auto model = SamModel::load(dir.file("m"), segkit::test::quiet_load_options());
    const auto& m = segkit::sam::Internals::of(*model);
    // Random checkpoints (like upstream's initialisation) have norms of weight 1 and bias 0 and
    // small weights, which make every attention nearly uniform; the factored form tracks each
    // norm's weight and bias and each projection's bias, so give them all values that count.
    at::manual_seed(100 + depth);
    sam::TwoWayTransformer transformer = m.mask_decoder.transformer;  // tensors are replaced, not changed
    auto randomise = [](nn::LayerNorm& norm) {
      norm.weight = 1.0 + 0.5 * at::randn(norm.weight.sizes());
      norm.bias = 0.3 * at::randn(norm.bias.sizes());
    };
    auto randomise_projections = [](sam::Attention& att) {
      for (nn::Linear* l : {&att.q_proj, &att.k_proj, &att.v_proj, &att.out_proj}) {
        l->weight = at::randn(l->weight.sizes()) / std::sqrt(double(l->in_features()));
        l->bias = 0.3 * at::randn(l->bias.sizes());
      }
    };
    for (auto& layer : transformer.layers) {
      for (nn::LayerNorm* norm : {&layer.norm1, &layer.norm2, &layer.norm3, &layer.norm4}) randomise(*norm);
      for (sam::Attention* att : {&layer.self_attn, &layer.token_to_image, &layer.image_to_token}) randomise_projections(*att);
    }
    randomise(transformer.norm_final);
    randomise_projections(transformer.final_attn);

    at::manual_seed(depth);
    const int64_t B = 5, g = c.embedding_size();
    const at::Tensor image = at::randn({1, c.out_chans, g, g});
    // Two points per prompt (and the padding point): 5 output tokens + 3.
    const at::Tensor coords = at::rand({B, 2, 2}) * float(c.image_size);
    const at::Tensor labels = at::randint(0, 2, {B, 2}, at::kInt);
    auto [sparse, dense] = m.prompt_encoder.forward(coords, labels, at::Tensor(), at::Tensor());
    const at::Tensor src = image + dense.slice(0, 0, 1);
    const auto& d = m.mask_decoder;
    const at::Tensor tokens = at::cat({at::cat({d.iou_token, d.mask_tokens}, 0).unsqueeze(0).expand({B, -1, -1}), sparse}, 1);

    auto [queries, keys] = transformer.forward(src, m.dense_pe, tokens, {0, 2, 3, 4});
    const sam::FactoredTransformer factored(transformer, src[0].flatten(1).t().contiguous(),
                                            m.dense_pe[0].flatten(1).t().contiguous());
    auto [f_queries, f_keys] = factored.forward(tokens, {0, 2, 3, 4});
    ASSERT_EQ(f_queries.sizes(), queries.sizes());
    EXPECT_LT((f_queries - queries).abs().max().item<float>(), 1e-4f);
    for (int64_t b = 0; b < B; ++b) {
      const at::Tensor tokens_b = f_keys.materialize(b);
      ASSERT_EQ(tokens_b.sizes(), keys[b].sizes());
      EXPECT_LT((tokens_b - keys[b]).abs().max().item<float>(), 1e-4f) << "prompt " << b;
    }
  }
}
