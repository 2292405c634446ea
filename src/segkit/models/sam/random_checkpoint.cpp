#include "models/sam/random_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/splitmix64.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/safetensors.h"

namespace segkit::sam {

namespace {

class Writer {
 public:
  explicit Writer(uint64_t seed) : rng_{seed} {}
  enum Fill { Random, Ones, Zeros };
  void add(const std::string& name, std::vector<int64_t> shape, Fill fill = Random) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n), fill == Ones ? 1.0f : 0.0f);
    // Uniform with standard deviation 0.02, like common transformer initialisations.
    if (fill == Random)
      for (float& x : v) x = rng_.uniform(0.02f * std::sqrt(3.0f));
    names_.push_back(name);
    shapes_.push_back(std::move(shape));
    data_.push_back(std::move(v));
  }
  void linear(const std::string& p, int64_t out, int64_t in) {
    add(p + ".weight", {out, in});
    add(p + ".bias", {out});
  }
  void norm(const std::string& p, int64_t n) {
    add(p + ".weight", {n}, Ones);
    add(p + ".bias", {n}, Zeros);
  }
  void write(const std::string& path) const {
    std::vector<TensorRef> refs;
    for (size_t i = 0; i < names_.size(); ++i) refs.push_back({names_[i], DType::F32, shapes_[i], data_[i].data()});
    write_safetensors(path, refs, {{"format", "pt"}});
  }

 private:
  SplitMix64 rng_;
  std::vector<std::string> names_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::vector<float>> data_;
};

void add_mlp(Writer& w, const std::string& p, int64_t in, int64_t hidden, int64_t out, int depth) {
  w.linear(p + ".proj_in", hidden, in);
  for (int i = 0; i < depth - 2; ++i) w.linear(p + ".layers." + std::to_string(i), hidden, hidden);
  w.linear(p + ".proj_out", out, hidden);
}

void add_attention(Writer& w, const std::string& p, int64_t dim, int64_t inner) {
  w.linear(p + ".q_proj", inner, dim);
  w.linear(p + ".k_proj", inner, dim);
  w.linear(p + ".v_proj", inner, dim);
  w.linear(p + ".out_proj", dim, inner);
}

nlohmann::json hf_config(const SamConfig& c) {
  const int g = c.embedding_size();
  return {{"architectures", {"SamModel"}},
          {"model_type", "sam"},
          {"vision_config",
           {{"model_type", "sam_vision_model"}, {"hidden_size", c.encoder_dim}, {"output_channels", c.out_chans},
            {"num_hidden_layers", c.encoder_depth}, {"num_attention_heads", c.encoder_heads}, {"num_channels", 3},
            {"image_size", c.image_size}, {"patch_size", c.patch_size}, {"hidden_act", "gelu"},
            {"layer_norm_eps", 1e-6}, {"qkv_bias", true}, {"mlp_ratio", 4.0}, {"use_abs_pos", true},
            {"use_rel_pos", true}, {"window_size", c.window_size}, {"global_attn_indexes", c.global_attn_indexes},
            {"num_pos_feats", c.out_chans / 2}, {"mlp_dim", 4 * c.encoder_dim}}},
          {"prompt_encoder_config",
           {{"hidden_size", c.out_chans}, {"image_size", c.image_size}, {"patch_size", c.patch_size},
            {"mask_input_channels", c.mask_in_chans}, {"num_point_embeddings", 4}, {"hidden_act", "gelu"},
            {"layer_norm_eps", 1e-6}}},
          {"mask_decoder_config",
           {{"hidden_size", c.out_chans}, {"hidden_act", "relu"}, {"mlp_dim", c.decoder_mlp_dim},
            {"num_hidden_layers", c.decoder_depth}, {"num_attention_heads", c.decoder_heads},
            {"attention_downsample_rate", 2}, {"num_multimask_outputs", c.num_multimask_outputs},
            {"iou_head_depth", c.iou_head_depth}, {"iou_head_hidden_dim", c.iou_head_hidden_dim},
            {"layer_norm_eps", 1e-6}}},
          {"segkit_note", "random weights for benchmarks; grid " + std::to_string(g)}};
}

nlohmann::json preprocessor_config(const SamConfig& c) {
  std::vector<double> mean, std_;
  for (int i = 0; i < 3; ++i) {
    mean.push_back(c.pixel_mean[i] / 255.0);
    std_.push_back(c.pixel_std[i] / 255.0);
  }
  return {{"image_processor_type", "SamImageProcessor"},
          {"processor_class", "SamProcessor"},
          {"do_resize", true},
          {"size", {{"longest_edge", c.image_size}}},
          {"resample", 2},
          {"do_rescale", true},
          {"rescale_factor", 1.0 / 255.0},
          {"do_normalize", true},
          {"image_mean", mean},
          {"image_std", std_},
          {"do_pad", true},
          {"pad_size", {{"height", c.image_size}, {"width", c.image_size}}},
          {"do_convert_rgb", true}};
}

}  // namespace

SamConfig standard_config(const std::string& variant) {
  SamConfig c;  // defaults are ViT-B
  if (variant == "vit_b") return c;
  if (variant == "vit_l") {
    c.encoder_dim = 1024;
    c.encoder_depth = 24;
    c.encoder_heads = 16;
    c.global_attn_indexes = {5, 11, 17, 23};
    return c;
  }
  if (variant == "vit_h") {
    c.encoder_dim = 1280;
    c.encoder_depth = 32;
    c.encoder_heads = 16;
    c.global_attn_indexes = {7, 15, 23, 31};
    return c;
  }
  fail("variant", "unknown SAM variant '" + variant + "' (expected vit_b, vit_l or vit_h)");
}

void write_random_checkpoint(const std::string& folder, const SamConfig& c, uint64_t seed) {
  const int64_t C = c.encoder_dim, O = c.out_chans, g = c.embedding_size(), p = c.patch_size;
  if (C % c.encoder_heads != 0 || O % 8 != 0 || c.window_size <= 0 || c.image_size % p != 0)
    fail(folder, "inconsistent SAM configuration: " + c.describe());
  const int64_t head_dim = C / c.encoder_heads;
  Writer w(seed);
  w.add("vision_encoder.patch_embed.projection.weight", {C, 3, p, p});
  w.add("vision_encoder.patch_embed.projection.bias", {C});
  w.add("vision_encoder.pos_embed", {1, g, g, C});
  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string b = "vision_encoder.layers." + std::to_string(i);
    const bool global = std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(), i) != c.global_attn_indexes.end();
    const int64_t size = global ? g : c.window_size;
    w.norm(b + ".layer_norm1", C);
    w.linear(b + ".attn.qkv", 3 * C, C);
    w.linear(b + ".attn.proj", C, C);
    w.add(b + ".attn.rel_pos_h", {2 * size - 1, head_dim});
    w.add(b + ".attn.rel_pos_w", {2 * size - 1, head_dim});
    w.norm(b + ".layer_norm2", C);
    w.linear(b + ".mlp.lin1", 4 * C, C);
    w.linear(b + ".mlp.lin2", C, 4 * C);
  }
  w.add("vision_encoder.neck.conv1.weight", {O, C, 1, 1});
  w.norm("vision_encoder.neck.layer_norm1", O);
  w.add("vision_encoder.neck.conv2.weight", {O, O, 3, 3});
  w.norm("vision_encoder.neck.layer_norm2", O);

  w.add("shared_image_embedding.positional_embedding", {2, O / 2});
  const int64_t m = c.mask_in_chans;
  w.add("prompt_encoder.mask_embed.conv1.weight", {m / 4, 1, 2, 2});
  w.add("prompt_encoder.mask_embed.conv1.bias", {m / 4});
  w.norm("prompt_encoder.mask_embed.layer_norm1", m / 4);
  w.add("prompt_encoder.mask_embed.conv2.weight", {m, m / 4, 2, 2});
  w.add("prompt_encoder.mask_embed.conv2.bias", {m});
  w.norm("prompt_encoder.mask_embed.layer_norm2", m);
  w.add("prompt_encoder.mask_embed.conv3.weight", {O, m, 1, 1});
  w.add("prompt_encoder.mask_embed.conv3.bias", {O});
  w.add("prompt_encoder.no_mask_embed.weight", {1, O});
  w.add("prompt_encoder.not_a_point_embed.weight", {1, O});
  for (int i = 0; i < 4; ++i) w.add("prompt_encoder.point_embed." + std::to_string(i) + ".weight", {1, O});

  const int M = c.num_multimask_outputs + 1;
  w.add("mask_decoder.iou_token.weight", {1, O});
  w.add("mask_decoder.mask_tokens.weight", {M, O});
  for (int l = 0; l < c.decoder_depth; ++l) {
    const std::string b = "mask_decoder.transformer.layers." + std::to_string(l);
    add_attention(w, b + ".self_attn", O, O);
    add_attention(w, b + ".cross_attn_token_to_image", O, O / 2);
    add_attention(w, b + ".cross_attn_image_to_token", O, O / 2);
    for (int n = 1; n <= 4; ++n) w.norm(b + ".layer_norm" + std::to_string(n), O);
    w.linear(b + ".mlp.lin1", c.decoder_mlp_dim, O);
    w.linear(b + ".mlp.lin2", O, c.decoder_mlp_dim);
  }
  add_attention(w, "mask_decoder.transformer.final_attn_token_to_image", O, O / 2);
  w.norm("mask_decoder.transformer.layer_norm_final_attn", O);
  w.add("mask_decoder.upscale_conv1.weight", {O, O / 4, 2, 2});
  w.add("mask_decoder.upscale_conv1.bias", {O / 4});
  w.norm("mask_decoder.upscale_layer_norm", O / 4);
  w.add("mask_decoder.upscale_conv2.weight", {O / 4, O / 8, 2, 2});
  w.add("mask_decoder.upscale_conv2.bias", {O / 8});
  for (int i = 0; i < M; ++i) add_mlp(w, "mask_decoder.output_hypernetworks_mlps." + std::to_string(i), O, O, O / 8, 3);
  add_mlp(w, "mask_decoder.iou_prediction_head", O, c.iou_head_hidden_dim, M, c.iou_head_depth);

  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail(folder, "cannot create folder: " + ec.message());
  w.write(folder + "/model.safetensors");
  write_text_atomically(folder + "/config.json", hf_config(c).dump(2) + "\n");
  write_text_atomically(folder + "/preprocessor_config.json", preprocessor_config(c).dump(2) + "\n");
}

}  // namespace segkit::sam
