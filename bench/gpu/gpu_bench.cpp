// segkit_gpu_bench: the device half of issue 26's table (docs/performance.md "GPU"), on random
// weights of the real shapes: SAM ViT-B and ViT-H encoders, 64 prompts through SAM's decoder
// and upscaling, segment-everything on an image, Mask2Former Swin-T at 800×1216 and SAM 3 at
// 1008 px with one phrase. Prints one JSON object; bench/gpu/pytorch_reference.py times the same
// work in PyTorch on the same card, and scripts/gpu-check.sh runs both.
//
//   segkit_gpu_bench --device cuda --work DIR [--repeat 10] [--image rgb.safetensors] [--only NAME,...]
#include <ATen/ops/rand.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/bench_timing.h"
#include "models/device.h"
#include "models/mask2former/random_checkpoint.h"
#include "models/sam/predictor_torch.h"
#include "models/sam/random_checkpoint.h"
#include "models/sam/sam_model_impl.h"
#include "models/sam3/random_checkpoint.h"
#include "segkit/error.h"
#include "segkit/mask2former.h"
#include "segkit/safetensors.h"
#include "segkit/sam.h"
#include "segkit/sam3.h"
#include "segkit/sam_generator.h"

using namespace segkit;
namespace fs = std::filesystem;

namespace {

struct Args {
  Device device;
  std::string work = "gpu-bench-work", image, mask2former_config;
  int repeat = 10;
  std::set<std::string> only;
  bool wants(const std::string& name) const { return only.empty() || only.count(name) != 0; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(flag, "needs a value");
      return argv[++i];
    };
    if (flag == "--device") a.device = parse_device(value());
    else if (flag == "--work") a.work = value();
    else if (flag == "--repeat") a.repeat = std::max(1, std::atoi(value().c_str()));
    else if (flag == "--image") a.image = value();
    else if (flag == "--mask2former-config") a.mask2former_config = value();
    else if (flag == "--only") {
      std::stringstream names(value());
      for (std::string n; std::getline(names, n, ',');) a.only.insert(n);
    } else {
      fail(flag, "unknown flag (--device, --work, --repeat, --image, --mask2former-config, --only)");
    }
  }
  return a;
}

LoadOptions load_options(const Args& a, Precision precision = Precision::Fp32) {
  LoadOptions o;
  o.device = a.device;
  o.precision = precision;
  o.warn_unused = false;
  return o;
}

// Waits for the device's queued work, so that a timing covers it.
void sync(const Device& device) {
  if (device.kind == Device::Kind::Cuda) torch::cuda::synchronize(device.index);
}

// Median milliseconds of `repeat` runs after one warm-up, each ended by a device sync.
double time_ms(const Args& a, const std::function<void()>& run) {
  std::optional<double> cpu;
  return bench::median_ms(a.repeat, [&] {
    run();
    sync(a.device);
  }, cpu);
}

// The segment-everything image: an RGB uint8 H×W×3 tensor "rgb" in a .safetensors file (made by
// scripts/gpu-check.sh from truck.jpg), else a synthetic 1200×1800 picture.
Image bench_image(const std::string& path) {
  Image image;
  if (!path.empty()) {
    auto f = SafetensorsFile::open(path);
    const TensorView& v = f->get("rgb");
    if (v.shape.size() != 3 || v.shape[2] != 3 || v.dtype != DType::U8) fail(path, "'rgb' must be uint8 H×W×3");
    image.height = int(v.shape[0]);
    image.width = int(v.shape[1]);
    image.rgb.assign(v.data, v.data + v.nbytes);
    return image;
  }
  image.height = 1200;
  image.width = 1800;
  image.rgb.resize(size_t(image.height) * image.width * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t((i * 2654435761u) >> 24);
  return image;
}

Image random_image(int height, int width) {
  Image image;
  image.height = height;
  image.width = width;
  const at::Tensor pixels = at::randint(0, 256, {height, width, 3}, at::kByte);
  image.rgb.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
  return image;
}

std::string sam_folder(const Args& a, const std::string& variant) {
  const std::string folder = a.work + "/sam-" + variant;
  if (!fs::exists(folder + "/model.safetensors")) sam::write_random_checkpoint(folder, sam::standard_config(variant));
  return folder;
}

void bench_sam_encoder(const Args& a, const std::string& variant, Precision precision, nlohmann::json& out) {
  const auto model = SamModel::load(sam_folder(a, variant), load_options(a, precision));
  const auto& encoder = sam::Internals::of(*model).image_encoder;
  const int S = model->config().image_size;
  const at::Tensor x = models::to_device(at::randn({1, 3, S, S}), models::torch_device(a.device));
  out["sam_" + variant + "_encoder_" + precision_name(precision) + "_ms"] = time_ms(a, [&] { encoder.forward(x); });
}

void bench_sam_decoder(const Args& a, nlohmann::json& out) {
  const auto model = SamModel::load(sam_folder(a, "vit_b"), load_options(a));
  SamPredictor predictor(model);
  const Image image = random_image(1200, 1800);
  predictor.set_image(image);
  // 64 single-point prompts, multimask, upscaled to the image (upstream's predict_torch).
  const at::Tensor points = at::rand({64, 1, 2}) * 1024;
  const at::Tensor labels = at::ones({64, 1}, at::kInt);
  out["sam_decoder_64_prompts_ms"] = time_ms(a, [&] {
    sam::predict_torch(predictor, points, labels, at::Tensor(), at::Tensor(), true, true);
  });
}

void bench_sam_everything(const Args& a, const Image& image, nlohmann::json& out) {
  SamMaskGenerator generator(SamModel::load(sam_folder(a, "vit_b"), load_options(a)));
  size_t masks = 0;
  Args once = a;
  once.repeat = std::max(1, a.repeat / 3);  // seconds each on a CPU
  out["sam_everything_vit_b_ms"] = time_ms(once, [&] { masks = generator.generate(image).size(); });
  out["sam_everything_vit_b_masks"] = masks;
}

void bench_mask2former(const Args& a, nlohmann::json& out) {
  if (a.mask2former_config.empty()) return;
  const std::string folder = a.work + "/mask2former-swin-t";
  if (!fs::exists(folder + "/model.safetensors")) mask2former::write_random_checkpoint(folder, a.mask2former_config);
  for (Precision p : {Precision::Fp32, Precision::Bf16}) {
    const auto model = Mask2FormerModel::load(folder, load_options(a, p));
    Mask2FormerInput in;
    in.pixel_values.shape = {1, 3, 800, 1216};
    const at::Tensor x = at::randn({1, 3, 800, 1216});
    in.pixel_values.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    in.original_height = 800;
    in.original_width = 1216;
    out[std::string("mask2former_swin_t_800x1216_") + precision_name(p) + "_ms"] = time_ms(a, [&] { model->forward(in); });
  }
}

void bench_sam3(const Args& a, nlohmann::json& out) {
  const std::string folder = a.work + "/sam3";
  if (!fs::exists(folder + "/model.safetensors")) sam3::write_random_checkpoint(folder);
  const Image image = random_image(1008, 1008);
  for (Precision p : {Precision::Fp32, Precision::Bf16}) {
    const auto model = Sam3Model::load(folder, load_options(a, p));
    out[std::string("sam3_1008_one_phrase_") + precision_name(p) + "_ms"] =
        time_ms(a, [&] { model->segment(image, "yellow truck"); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    c10::InferenceMode guard;
    fs::create_directories(a.work);
    nlohmann::json out = {{"device", device_name(a.device)}, {"repeat", a.repeat}};
    // Each item on its own: one that fails (a family not yet on this device) is reported, not fatal.
    const std::vector<std::pair<std::string, std::function<void()>>> items = {
        {"sam_vit_b_encoder", [&] { bench_sam_encoder(a, "vit_b", Precision::Bf16, out); }},
        {"sam_vit_h_encoder",
         [&] {
           bench_sam_encoder(a, "vit_h", Precision::Bf16, out);
           bench_sam_encoder(a, "vit_h", Precision::Fp32, out);
         }},
        {"sam_decoder", [&] { bench_sam_decoder(a, out); }},
        {"sam_everything", [&] { bench_sam_everything(a, bench_image(a.image), out); }},
        {"mask2former", [&] { bench_mask2former(a, out); }},
        {"sam3", [&] { bench_sam3(a, out); }},
    };
    for (const auto& [name, run] : items) {
      if (!a.wants(name)) continue;
      try {
        run();
      } catch (const std::exception& e) {
        out["errors"][name] = e.what();
      }
      std::cerr << "segkit_gpu_bench: " << name << " done\n";
    }
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "segkit_gpu_bench: error: " << e.what() << "\n";
    return 1;
  }
}
