#include "models/mask2former/macs.h"

#include <vector>

namespace segkit::mask2former {

namespace {

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }
int64_t half_up(int64_t n) { return (n + 1) / 2; }

constexpr int kLevels = 3, kPoints = 4;  // deformable attention, as the pixel decoder runs it

}  // namespace

ForwardMacs count_macs(const Mask2FormerConfig& c, int64_t height, int64_t width) {
  ForwardMacs m;
  const int64_t p = c.patch_size, ws = c.window_size, window_tokens = ws * ws;
  int64_t h = (height + p - 1) / p, w = (width + p - 1) / p;
  m.backbone += h * w * c.embed_dim * 3 * p * p;
  std::vector<int64_t> tokens, channels;  // per stage, finest first
  for (int s = 0; s < 4; ++s) {
    const int64_t ch = static_cast<int64_t>(c.embed_dim) << s, mlp = static_cast<int64_t>(ch * c.mlp_ratio);
    const int64_t n = h * w, padded = round_up(h, ws) * round_up(w, ws);
    // q, k, v and output projections run on the padded windows, the MLP on the real tokens.
    const int64_t block = 4 * padded * ch * ch + 2 * padded * window_tokens * ch + 2 * n * ch * mlp;
    m.backbone += c.depths[s] * block;
    tokens.push_back(n);
    channels.push_back(ch);
    if (s == 3) break;
    h = half_up(h);
    w = half_up(w);
    m.backbone += h * w * (4 * ch) * (2 * ch);  // patch merging's reduction
  }

  const int64_t d = c.hidden_dim, heads = c.num_attention_heads, f = c.mask_feature_size;
  int64_t encoder_tokens = 0;
  std::vector<int64_t> level_tokens;  // coarsest first, as the decoders index levels
  for (int l = 0; l < kLevels; ++l) {
    const int64_t n = tokens[3 - l];
    m.pixel_decoder += n * channels[3 - l] * d;  // 1×1 input projection
    level_tokens.push_back(n);
    encoder_tokens += n;
  }
  const int64_t samples = heads * kLevels * kPoints;
  // value and output projections, offsets and weights from each query, bilinear sampling
  // (4 corners per channel and sample), feed-forward.
  const int64_t encoder_layer = 2 * d * d + d * (3 * samples) + kLevels * kPoints * d * 4 + 2 * d * c.encoder_feedforward_dim;
  m.pixel_decoder += c.encoder_layers * encoder_tokens * encoder_layer;
  const int64_t finest = tokens[0];
  m.pixel_decoder += finest * (channels[0] * d + 9 * d * d + d * f);  // adapter 1×1, FPN 3×3, mask projection

  const int64_t q = c.num_queries;
  const int64_t prediction = q * (2 * d * d + d * f) + q * d * (c.num_labels() + 1) + q * f * finest;
  m.transformer_decoder += c.decoder_layers * prediction;  // the queries' own, then each layer's
  for (int i = 0; i + 1 < c.decoder_layers; ++i) {
    const int64_t n = level_tokens[i % kLevels];
    const int64_t cross = 2 * q * d * d + 2 * n * d * d + 2 * q * n * d;  // q, out; k, v; scores, values
    const int64_t self = 4 * q * d * d + 2 * q * q * d;
    m.transformer_decoder += cross + self + 2 * q * d * c.dim_feedforward;
  }
  return m;
}

}  // namespace segkit::mask2former
