#include "models/sam/weight_names.h"

#include <algorithm>
#include <regex>

namespace segkit::sam {

namespace {
bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

void replace_prefix(std::string& s, const std::string& from, const std::string& to) {
  if (starts_with(s, from)) s = to + s.substr(from.size());
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}
}  // namespace

nn::WeightMap translate_hf_names(const std::map<std::string, at::Tensor>& hf, const std::string& source) {
  // transformers' MLP heads are proj_in, layers.0..n-3, proj_out; upstream numbers them all.
  std::map<std::string, int> mlp_depth;
  static const std::regex hidden_layer(R"(^(.*)\.layers\.(\d+)\.weight$)");
  for (const auto& kv : hf) {
    const std::string& k = kv.first;
    if (k.find("proj_in.weight") != std::string::npos) {
      std::string prefix = k.substr(0, k.size() - std::string("proj_in.weight").size() - 1);
      mlp_depth.emplace(prefix, 2);
    }
  }
  for (const auto& kv : hf) {
    std::smatch m;
    if (std::regex_match(kv.first, m, hidden_layer) && mlp_depth.count(m[1].str()))
      mlp_depth[m[1].str()] = std::max(mlp_depth[m[1].str()], std::stoi(m[2].str()) + 3);
  }

  nn::WeightMap out(source);
  for (const auto& kv : hf) {
    std::string k = kv.first;
    replace_prefix(k, "module.", "");  // saved from a DataParallel wrapper
    if (k == "shared_image_embedding.positional_embedding" || k == "prompt_encoder.shared_embedding.positional_embedding") {
      out.insert("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", kv.second);
      continue;
    }
    if (starts_with(k, "vision_encoder.")) {
      replace_prefix(k, "vision_encoder.patch_embed.projection.", "image_encoder.patch_embed.proj.");
      replace_prefix(k, "vision_encoder.neck.conv1.", "image_encoder.neck.0.");
      replace_prefix(k, "vision_encoder.neck.layer_norm1.", "image_encoder.neck.1.");
      replace_prefix(k, "vision_encoder.neck.conv2.", "image_encoder.neck.2.");
      replace_prefix(k, "vision_encoder.neck.layer_norm2.", "image_encoder.neck.3.");
      replace_prefix(k, "vision_encoder.layers.", "image_encoder.blocks.");
      replace_prefix(k, "vision_encoder.", "image_encoder.");
      replace_all(k, ".layer_norm1.", ".norm1.");
      replace_all(k, ".layer_norm2.", ".norm2.");
    } else if (starts_with(k, "prompt_encoder.")) {
      replace_prefix(k, "prompt_encoder.point_embed.", "prompt_encoder.point_embeddings.");
      replace_prefix(k, "prompt_encoder.mask_embed.conv1.", "prompt_encoder.mask_downscaling.0.");
      replace_prefix(k, "prompt_encoder.mask_embed.layer_norm1.", "prompt_encoder.mask_downscaling.1.");
      replace_prefix(k, "prompt_encoder.mask_embed.conv2.", "prompt_encoder.mask_downscaling.3.");
      replace_prefix(k, "prompt_encoder.mask_embed.layer_norm2.", "prompt_encoder.mask_downscaling.4.");
      replace_prefix(k, "prompt_encoder.mask_embed.conv3.", "prompt_encoder.mask_downscaling.6.");
    } else if (starts_with(k, "mask_decoder.")) {
      replace_prefix(k, "mask_decoder.upscale_conv1.", "mask_decoder.output_upscaling.0.");
      replace_prefix(k, "mask_decoder.upscale_layer_norm.", "mask_decoder.output_upscaling.1.");
      replace_prefix(k, "mask_decoder.upscale_conv2.", "mask_decoder.output_upscaling.3.");
      replace_prefix(k, "mask_decoder.transformer.layer_norm_final_attn.", "mask_decoder.transformer.norm_final_attn.");
      for (int i = 1; i <= 4; ++i) replace_all(k, ".layer_norm" + std::to_string(i) + ".", ".norm" + std::to_string(i) + ".");
      for (const auto& [prefix, depth] : mlp_depth) {
        if (!starts_with(k, prefix + ".")) continue;
        std::string rest = k.substr(prefix.size() + 1);
        if (starts_with(rest, "proj_in.")) k = prefix + ".layers.0." + rest.substr(8);
        else if (starts_with(rest, "proj_out.")) k = prefix + ".layers." + std::to_string(depth - 1) + "." + rest.substr(9);
        else if (starts_with(rest, "layers.")) {
          size_t dot = rest.find('.', 7);
          int j = std::stoi(rest.substr(7, dot - 7));
          k = prefix + ".layers." + std::to_string(j + 1) + rest.substr(dot);
        }
      }
    }
    out.insert(k, kv.second);
  }
  return out;
}

}  // namespace segkit::sam
