// UNetConfig: validation, JSON form and the size arithmetic of same/valid padding.
#include <nlohmann/json.hpp>

#include "core/json_fields.h"
#include "core/json_read.h"
#include "segkit/error.h"
#include "segkit/unet.h"

namespace segkit {

void UNetConfig::validate() const {
  auto bad = [](const std::string& m) { fail("U-Net config", m); };
  if (in_channels != 1 && in_channels != 3) bad("in_channels must be 1 or 3, got " + std::to_string(in_channels));
  if (classes < 2 || classes > 256) bad("classes must be 2..256, got " + std::to_string(classes));
  if (depth < 1 || depth > 6) bad("depth must be 1..6, got " + std::to_string(depth));
  if (width < 1 || width > 1024) bad("width must be 1..1024, got " + std::to_string(width));
  if (static_cast<int>(mean.size()) != in_channels || static_cast<int>(std.size()) != in_channels)
    bad("mean and std need one value per input channel");
  for (float s : std)
    if (!(s > 0)) bad("std must be positive");
}

std::string UNetConfig::to_json() const {
  nlohmann::json j = {{"architecture", "unet"},
                      {"in_channels", in_channels},
                      {"classes", classes},
                      {"depth", depth},
                      {"width", width},
                      {"batch_norm", batch_norm},
                      {"upsample", upsample == UNetUpsample::Transpose ? "transpose" : "bilinear"},
                      {"padding", padding == UNetPadding::Same ? "same" : "valid"},
                      {"mean", mean},
                      {"std", std}};
  return j.dump();
}

UNetConfig UNetConfig::from_json(const std::string& text, const std::string& context) {
  UNetConfig c;
  const nlohmann::json j = parse_json(text, context, JsonLimits::config());
  try {
    if (j.value("architecture", std::string()) != "unet") fail(context, "not a U-Net checkpoint");
    read_required(j, context, "in_channels", c.in_channels, INT32_MIN, INT32_MAX);
    read_required(j, context, "classes", c.classes, INT32_MIN, INT32_MAX);
    read_required(j, context, "depth", c.depth, INT32_MIN, INT32_MAX);
    read_required(j, context, "width", c.width, INT32_MIN, INT32_MAX);
    c.batch_norm = j.at("batch_norm").get<bool>();
    const std::string up = j.at("upsample").get<std::string>(), pad = j.at("padding").get<std::string>();
    if (up != "transpose" && up != "bilinear") fail(context, "unknown upsample '" + up + "'");
    if (pad != "same" && pad != "valid") fail(context, "unknown padding '" + pad + "'");
    c.upsample = up == "transpose" ? UNetUpsample::Transpose : UNetUpsample::Bilinear;
    c.padding = pad == "same" ? UNetPadding::Same : UNetPadding::Valid;
    read_required(j, context, "mean", c.mean);
    read_required(j, context, "std", c.std);
  } catch (const nlohmann::json::exception& e) {
    fail(context, std::string("bad U-Net config: ") + e.what());
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail(context, e.what());
  }
  return c;
}

std::string UNetConfig::describe() const {
  return "U-Net(in=" + std::to_string(in_channels) + ", classes=" + std::to_string(classes) +
         ", depth=" + std::to_string(depth) + ", width=" + std::to_string(width) +
         (batch_norm ? ", batch norm" : "") + (upsample == UNetUpsample::Transpose ? ", transpose" : ", bilinear") +
         (padding == UNetPadding::Same ? ", same padding)" : ", valid padding)");
}

int UNetConfig::output_size(int input) const {
  if (input < 1) return -1;
  if (padding == UNetPadding::Same) return input % (1 << depth) == 0 ? input : -1;
  int s = input;
  for (int l = 0; l < depth; ++l) {
    s -= 4;
    if (s <= 0 || s % 2 != 0) return -1;
    s /= 2;
  }
  s -= 4;
  if (s <= 0) return -1;
  for (int l = 0; l < depth; ++l) s = s * 2 - 4;
  return s > 0 ? s : -1;
}

int UNetConfig::fitting_input_size(int at_least) const {
  int s = std::max(at_least, 1);
  while (output_size(s) < 1) ++s;
  return s;
}

int UNetConfig::context_margin() const {
  if (padding == UNetPadding::Valid) {
    const int in = fitting_input_size(1);
    return (in - output_size(in)) / 2;
  }
  // Receptive field of one output pixel, in input pixels (size grows by (k-1)·jump per layer).
  long size = 1, jump = 1;
  for (int l = 0; l < depth; ++l) {
    size += 4 * jump + jump;  // two 3×3 convolutions, 2×2 pooling
    jump *= 2;
  }
  size += 4 * jump;
  for (int l = 0; l < depth; ++l) {
    size += jump;  // the upsampling step mixes neighbouring coarse pixels (at most one more)
    jump /= 2;
    size += 4 * jump;
  }
  const long half = (size + 1) / 2, grid = 1L << depth;
  return static_cast<int>((half + grid - 1) / grid * grid);
}

}  // namespace segkit
