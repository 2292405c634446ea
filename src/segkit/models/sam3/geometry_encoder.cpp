#include "models/sam3/geometry_encoder.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/floor.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/aten_path.h"
#include "models/device.h"
#include "models/sam3/detr_decoder.h"
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

// transformers builds these norms without an eps: PyTorch's default, not the config's 1e-6.
constexpr double kNormEps = 1e-5;
constexpr int64_t kPaddingLabel = -10;
constexpr double kTemperature = 10000.0;
const double kTwoPi = 2.0 * M_PI;

// One ROI of torchvision's CPU kernel, in its float arithmetic and summation order.
void roi_align_one(const float* f, int64_t channels, int64_t height, int64_t width, const float* box, int64_t size,
                   float* out) {
  const float start_w = box[0], start_h = box[1];
  // Without `aligned`, a degenerate box still spans one cell.
  const float roi_w = std::max(box[2] - start_w, 1.0f), roi_h = std::max(box[3] - start_h, 1.0f);
  const float bin_h = roi_h / static_cast<float>(size), bin_w = roi_w / static_cast<float>(size);
  const int64_t grid_h = static_cast<int64_t>(std::ceil(roi_h / static_cast<float>(size)));
  const int64_t grid_w = static_cast<int64_t>(std::ceil(roi_w / static_cast<float>(size)));
  const float count = static_cast<float>(std::max<int64_t>(grid_h * grid_w, 1));
  const int64_t plane = height * width;
  for (int64_t ph = 0; ph < size; ++ph) {
    for (int64_t pw = 0; pw < size; ++pw) {
      for (int64_t c = 0; c < channels; ++c) out[(c * size + ph) * size + pw] = 0.0f;
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const float yy = start_h + ph * bin_h + (iy + 0.5f) * bin_h / static_cast<float>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const float xx = start_w + pw * bin_w + (ix + 0.5f) * bin_w / static_cast<float>(grid_w);
          // Samples beyond a one-cell border contribute zero.
          if (yy < -1.0f || yy > static_cast<float>(height) || xx < -1.0f || xx > static_cast<float>(width)) continue;
          float y = std::max(yy, 0.0f), x = std::max(xx, 0.0f);
          int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high, x_high;
          if (y_low >= height - 1) {
            y_high = y_low = height - 1;
            y = static_cast<float>(y_low);
          } else {
            y_high = y_low + 1;
          }
          if (x_low >= width - 1) {
            x_high = x_low = width - 1;
            x = static_cast<float>(x_low);
          } else {
            x_high = x_low + 1;
          }
          const float ly = y - y_low, lx = x - x_low, hy = 1.0f - ly, hx = 1.0f - lx;
          const float w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;
          const int64_t p1 = y_low * width + x_low, p2 = y_low * width + x_high;
          const int64_t p3 = y_high * width + x_low, p4 = y_high * width + x_high;
          for (int64_t c = 0; c < channels; ++c) {
            const float* fc = f + c * plane;
            out[(c * size + ph) * size + pw] += w1 * fc[p1] + w2 * fc[p2] + w3 * fc[p3] + w4 * fc[p4];
          }
        }
      }
      for (int64_t c = 0; c < channels; ++c) out[(c * size + ph) * size + pw] /= count;
    }
  }
}

// roi_align_one's samples along one axis of n cells, from `start` to `end`: each bin's bilinear
// weights of the cells, averaged over the bin's samples (size × n, float32, on the host). A
// sample's weight in 2-D is its row weight times its column weight, and one outside the border
// on either axis counts zero, so a box's pooled map is rows · features · columnsᵀ.
at::Tensor roi_axis_weights(float start, float end, int64_t size, int64_t n) {
  const float roi = std::max(end - start, 1.0f), bin = roi / static_cast<float>(size);
  const int64_t grid = static_cast<int64_t>(std::ceil(roi / static_cast<float>(size)));
  at::Tensor weights = at::zeros({size, n}, at::kFloat);
  auto a = weights.accessor<float, 2>();
  for (int64_t p = 0; p < size; ++p)
    for (int64_t i = 0; i < grid; ++i) {
      const float s = start + p * bin + (i + 0.5f) * bin / static_cast<float>(grid);
      if (s < -1.0f || s > static_cast<float>(n)) continue;
      float v = std::max(s, 0.0f);
      int64_t low = static_cast<int64_t>(v), high = low + 1;
      if (low >= n - 1) {
        high = low = n - 1;
        v = static_cast<float>(low);
      }
      const float l = v - static_cast<float>(low);
      a[p][low] += (1.0f - l) / static_cast<float>(grid);
      a[p][high] += l / static_cast<float>(grid);
    }
  return weights;
}

// roi_align with ATen's operators, for tensors off the CPU: the boxes are read on the host
// (a few exemplars) for the weights, the pooling is two products per image where the features are.
at::Tensor roi_align_aten(const at::Tensor& f, const at::Tensor& boxes, int64_t size) {
  const int64_t batch = f.size(0), height = f.size(2), width = f.size(3), n = boxes.size(1);
  const at::Tensor host = models::to_host(boxes);
  const float* bp = host.data_ptr<float>();
  std::vector<at::Tensor> rows, columns;
  for (int64_t r = 0; r < batch * n; ++r) {
    const float* box = bp + r * 4;  // x0, y0, x1, y1
    rows.push_back(roi_axis_weights(box[1], box[3], size, height));
    columns.push_back(roi_axis_weights(box[0], box[2], size, width));
  }
  const at::Tensor ry = at::stack(rows).to(f.device()).view({batch, n, 1, size, height});
  const at::Tensor rx = at::stack(columns).to(f.device()).view({batch, n, 1, size, width});
  std::vector<at::Tensor> pooled;
  for (int64_t i = 0; i < batch; ++i)  // n × C × size × size
    pooled.push_back(at::matmul(at::matmul(ry[i], f[i].unsqueeze(0)), rx[i].transpose(-2, -1)));
  return at::cat(pooled);
}

// Sine features of normalized coordinates v (… ): sin at even, cos at odd frequencies → … × feats.
at::Tensor sine_features(const at::Tensor& v, int64_t feats) {
  const at::Tensor k = at::arange(feats, v.options().dtype(at::kLong)).to(at::kFloat);
  const at::Tensor dim_t = at::pow(kTemperature, 2 * at::floor(k / 2) / static_cast<double>(feats));
  const at::Tensor scaled = (v * kTwoPi).unsqueeze(-1) / dim_t;
  return at::stack({scaled.slice(-1, 0, feats, 2).sin(), scaled.slice(-1, 1, feats, 2).cos()}, -1).flatten(-2);
}

}  // namespace

at::Tensor roi_align(const at::Tensor& features, const at::Tensor& boxes, int64_t output_size) {
  const at::Tensor f = features.to(at::kFloat).contiguous();
  const at::Tensor b = boxes.to(at::kFloat).contiguous();
  if (!kernels::hand_written_path({&f, &b})) return roi_align_aten(f, b, output_size);
  const int64_t batch = f.size(0), channels = f.size(1), height = f.size(2), width = f.size(3), n = b.size(1);
  at::Tensor out = at::empty({batch * n, channels, output_size, output_size}, at::kFloat);
  const float* fp = f.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t per_roi = channels * output_size * output_size;
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < n; ++j)
      roi_align_one(fp + i * channels * height * width, channels, height, width, bp + (i * n + j) * 4, output_size,
                    op + (i * n + j) * per_roi);
  return out;
}

GeometryEncoder GeometryEncoder::load(const nn::WeightMap& w, const std::string& prefix,
                                      const GeometryEncoderConfig& c) {
  GeometryEncoder g;
  g.config_ = c;
  const std::string m = prefix + "geometry_encoder.";
  const int64_t d = c.hidden_size, r = c.roi_size;
  g.label_embed_ = w.get(m + "label_embed.weight", {2, d});
  g.cls_embed_ = w.get(m + "cls_embed.weight", {1, d});
  g.direct_project_ = nn::load_linear(w, m + "boxes_direct_project", 4, d);
  // The 7 × 7 convolution over a 7 × 7 pool is one product over the flattened window.
  const at::Tensor pool = w.get(m + "boxes_pool_project.weight", {d, d, r, r});
  g.pool_project_.weight = pool.reshape({d, d * r * r});
  g.pool_project_.bias = w.get(m + "boxes_pool_project.bias", {d});
  g.pos_project_ = nn::load_linear(w, m + "boxes_pos_enc_project", d + 2, d);
  g.final_proj_ = nn::load_linear(w, m + "final_proj", d, d);
  g.vision_norm_ = nn::load_layer_norm(w, m + "vision_layer_norm", d, kNormEps);
  g.prompt_norm_ = nn::load_layer_norm(w, m + "prompt_layer_norm", d, kNormEps);
  g.output_norm_ = nn::load_layer_norm(w, m + "output_layer_norm", d, kNormEps);
  const int found = w.count_indexed(m + "layers.");
  if (found != c.num_layers)
    fail(w.source(), "the geometry encoder has " + std::to_string(found) + " layers but config.json says " +
                         std::to_string(c.num_layers) + " (geometry_encoder_config.num_layers)");
  for (int i = 0; i < c.num_layers; ++i) {
    g.layers_.push_back(
        EncoderLayer::load(w, m + "layers." + std::to_string(i), d, c.num_heads, c.intermediate_size, c.hidden_act));
  }
  return g;
}

GeometryEncoderOutput GeometryEncoder::forward(const at::Tensor& features, const at::Tensor& pos,
                                               const at::Tensor& boxes, const at::Tensor& labels) const {
  const std::string ctx = "SAM 3 geometry encoder";
  const int64_t d = config_.hidden_size;
  check_feature_map(ctx, features, pos, d);
  const int64_t b = features.size(0), h = features.size(2), wd = features.size(3);
  if (!boxes.defined() || boxes.dim() != 3 || boxes.size(0) != b || boxes.size(2) != 4 || boxes.size(1) < 1)
    fail(ctx, "the boxes must be " + std::to_string(b) + " × boxes × 4, not " + shape_text(boxes));
  const int64_t n = boxes.size(1);
  if (!labels.defined() || labels.dim() != 2 || labels.size(0) != b || labels.size(1) != n)
    fail(ctx, "the box labels are " + shape_text(labels) + " but the boxes are " + shape_text(boxes));
  if (!at::isIntegralType(labels.scalar_type(), /*includeBool=*/false)) fail(ctx, "the box labels must be integers");
  const at::Tensor lab = labels.to(at::kLong);
  if (!lab.eq(0).logical_or(lab.eq(1)).logical_or(lab.eq(kPaddingLabel)).all().item<bool>())
    fail(ctx, "a box label is not 1 (positive), 0 (negative) or -10 (padding)");
  const at::Tensor real = lab.ne(kPaddingLabel);
  const at::Tensor box = boxes.to(at::kFloat).contiguous();
  const at::Tensor v = features.to(at::kFloat);

  // Box tokens: coordinates, ROI pool of the normed level, centre encoding and size, label.
  const at::Tensor normed = vision_norm_(v.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
  const at::Tensor scale = at::tensor({static_cast<float>(wd), static_cast<float>(h), static_cast<float>(wd),
                                       static_cast<float>(h)})
                               .to(box.device());
  const at::Tensor pooled = roi_align(normed, cxcywh_to_xyxy(box) * scale, config_.roi_size);
  at::Tensor x = direct_project_(box) + pool_project_(pooled.view({b * n, -1})).view({b, n, d});
  const int64_t feats = d / 2;
  const at::Tensor centre = at::cat({sine_features(box.select(-1, 1), feats), sine_features(box.select(-1, 0), feats),
                                     box.slice(-1, 3, 4), box.slice(-1, 2, 3)},
                                    -1);
  x = x + pos_project_(centre);
  x = label_embed_.index_select(0, at::where(real, lab, 0).view(-1)).view({b, n, d}) + x;

  // The CLS token goes right after each image's real boxes; later slots keep what was there
  // (the padded boxes' tokens, then zeros) and are masked.
  const at::Tensor valid = real.sum(1);  // B
  at::Tensor seq = at::cat({x, at::zeros({b, 1, d}, x.options())}, 1);
  const at::Tensor slots = models::to_host(valid);  // read once on the host
  for (int64_t i = 0; i < b; ++i) seq[i][slots.data_ptr<int64_t>()[i]].copy_(cls_embed_[0]);
  GeometryEncoderOutput out;
  out.mask = at::arange(n + 1, valid.options()).unsqueeze(0).lt(valid.unsqueeze(1) + 1);

  x = prompt_norm_(final_proj_(seq));
  const at::Tensor bias = key_padding_bias(out.mask, b, n + 1, ctx);
  const at::Tensor values = v.flatten(2).transpose(1, 2).contiguous();  // B × H·W × C
  const at::Tensor keys = values + pos.to(at::kFloat).flatten(2).transpose(1, 2);
  for (const EncoderLayer& l : layers_) {
    const at::Tensor n1 = l.norm1(x);
    l.self_attn.accumulate(x, n1, n1, n1, bias);
    l.cross_attn.accumulate(x, l.norm2(x), keys, values);
    l.mlp.accumulate(x, l.norm3(x));
  }
  out.tokens = output_norm_(x);
  return out;
}

Prompt concat_prompt(const at::Tensor& text, const at::Tensor& text_mask, const GeometryEncoderOutput& geometry) {
  const std::string ctx = "SAM 3 prompt";
  if (!text.defined() || text.dim() != 3)
    fail(ctx, "the text features must be batch × tokens × width, not " + shape_text(text));
  at::Tensor mask =
      text_mask.defined() ? text_mask.ne(0) : at::ones({text.size(0), text.size(1)}, text.options().dtype(at::kBool));
  if (mask.sizes() != text.sizes().slice(0, 2))
    fail(ctx, "the text mask is " + shape_text(text_mask) + " but the text is " + shape_text(text));
  if (!geometry.tokens.defined()) return {text, mask};
  const at::Tensor& geo = geometry.tokens;
  if (geo.dim() != 3 || geo.size(2) != text.size(2) || geometry.mask.sizes() != geo.sizes().slice(0, 2))
    fail(ctx, "the geometry tokens are " + shape_text(geo) + " but the text is " + shape_text(text));
  at::Tensor tokens = text;
  if (text.size(0) == 1 && geo.size(0) > 1) {
    tokens = text.expand({geo.size(0), text.size(1), text.size(2)});
    mask = mask.expand({geo.size(0), mask.size(1)});
  }
  if (tokens.size(0) != geo.size(0))
    fail(ctx, "the text has a batch of " + std::to_string(text.size(0)) + " but the boxes " +
                  std::to_string(geo.size(0)));
  return {at::cat({tokens.to(at::kFloat), geo}, 1), at::cat({mask, geometry.mask.ne(0)}, 1)};
}

}  // namespace segkit::sam3
