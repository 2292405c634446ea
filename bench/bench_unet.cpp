// U-Net speed: training steps (forward, loss, backward, AdamW) in images per second and
// whole-image inference in megapixels per second, for the configuration of docs/unet-isbi.md.
// Prints JSON lines; with --pytorch SCRIPT also runs bench/unet_pytorch.py (same network, same
// step) in the same run, so the two numbers come from the same machine state.
//
//   build/bench_unet [--width 16] [--depth 4] [--crop 256] [--batch 4] [--size 512]
//                    [--steps 10] [--images 5] [--threads 2] [--pytorch bench/unet_pytorch.py]
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/unet/loss.h"
#include "models/unet/model_impl.h"
#include "segkit/threads.h"
#include "segkit/unet.h"
#include "training/adam.h"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  int width = 16, depth = 4, crop = 256, batch = 4, size = 512, steps = 10, images = 5, threads = 2;
  std::string pytorch;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--width") width = std::atoi(v);
    else if (k == "--depth") depth = std::atoi(v);
    else if (k == "--crop") crop = std::atoi(v);
    else if (k == "--batch") batch = std::atoi(v);
    else if (k == "--size") size = std::atoi(v);
    else if (k == "--steps") steps = std::atoi(v);
    else if (k == "--images") images = std::atoi(v);
    else if (k == "--threads") threads = std::atoi(v);
    else if (k == "--pytorch") pytorch = v;
    else {
      std::cerr << "bench_unet: unknown option " << k << "\n";
      return 2;
    }
  }
  segkit::set_num_threads(threads);
  segkit::UNetConfig config;
  config.width = width;
  config.depth = depth;
  auto model = segkit::UNetModel::create(config, 0);
  auto& net = segkit::unet::Internals::of(*model).network();
  segkit::training::Adam adam(net.parameters());
  const at::Tensor input = at::randn({batch, 1, crop, crop});
  const at::Tensor target = at::randint(0, 2, {batch, crop, crop}, at::kLong);

  auto step = [&] {
    adam.zero_grad();
    at::Tensor loss = segkit::unet::segmentation_loss(segkit::UNetLoss::CrossEntropyDice, net.forward(input, true), target);
    loss.backward();
    adam.step(1e-3);
  };
  step();  // warm-up: allocations, oneDNN kernel selection
  double t0 = now();
  for (int i = 0; i < steps; ++i) step();
  const double train_s = (now() - t0) / steps;
  std::cout << nlohmann::json{{"bench", "unet_train_step"}, {"impl", "segkit"}, {"width", width}, {"depth", depth},
                              {"batch", batch}, {"crop", crop}, {"threads", threads}, {"seconds_per_step", train_s},
                              {"images_per_s", batch / train_s}}.dump()
            << std::endl;

  segkit::Image image;
  image.width = image.height = size;
  image.rgb.assign(static_cast<size_t>(size) * size * 3, 128);
  segkit::unet_predict(*model, image);
  t0 = now();
  for (int i = 0; i < images; ++i) segkit::unet_predict(*model, image);
  const double infer_s = (now() - t0) / images;
  std::cout << nlohmann::json{{"bench", "unet_infer"}, {"impl", "segkit"}, {"width", width}, {"depth", depth},
                              {"size", size}, {"threads", threads}, {"seconds_per_image", infer_s},
                              {"mpx_per_s", size * size / 1e6 / infer_s}}.dump()
            << std::endl;

  if (!pytorch.empty()) {
    const std::string cmd = "/usr/bin/python3 " + pytorch + " --width " + std::to_string(width) + " --depth " +
                            std::to_string(depth) + " --crop " + std::to_string(crop) + " --batch " +
                            std::to_string(batch) + " --size " + std::to_string(size) + " --steps " +
                            std::to_string(steps) + " --images " + std::to_string(images) + " --threads " +
                            std::to_string(threads);
    std::cout << std::flush;
    const int rc = std::system(cmd.c_str());
    if (rc != 0) std::cout << nlohmann::json{{"bench", "unet_pytorch"}, {"error", "exit " + std::to_string(rc)}}.dump() << "\n";
  }
  return 0;
}
