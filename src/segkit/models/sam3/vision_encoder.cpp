#include "models/sam3/vision_encoder.h"

#include "models/device.h"

namespace segkit::sam3 {

VisionEncoder VisionEncoder::load(const nn::WeightMap& w, const Sam3Config& config) {
  VisionEncoder e;
  e.backbone = ViTBackbone::load(w, "vision_encoder.backbone.", config.vision.backbone);
  e.neck = FpnNeck::load(w, "vision_encoder.neck.", config.vision);
  return e;
}

VisionFeatures VisionEncoder::operator()(const at::Tensor& pixel_values, bool all_levels, bool keep_layers) const {
  VisionFeatures f;
  const at::Tensor x = backbone(pixel_values, keep_layers ? &f.vit_layers : nullptr);
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  f.last_hidden_state = x.view({B, H * W, C});
  const at::Tensor spatial = x.permute({0, 3, 1, 2});  // B × C × H × W, a view
  const size_t n = all_levels || neck.levels.size() <= 1 ? neck.levels.size() : neck.levels.size() - 1;
  for (size_t i = 0; i < n; ++i) {
    at::Tensor level = neck.levels[i](spatial);
    // Made on the host, used where the level is.
    const at::Tensor sine = sine_position_encoding(neck.fpn_hidden_size, level.size(2), level.size(3));
    f.fpn_position.push_back(models::to_device(sine, level.device()).expand({B, -1, -1, -1}));
    f.fpn.push_back(std::move(level));
  }
  return f;
}

}  // namespace segkit::sam3
