// The words for precisions and devices (model.h), and the one place that says which devices
// this process runs on (models/device.h).
#include <ATen/Context.h>

#include <cstdlib>

#include "models/device.h"
#include "segkit/error.h"
#include "segkit/model.h"

namespace segkit {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "bf16") return Precision::Bf16;
  if (name == "auto") return Precision::Auto;
  fail("precision", "expected fp32, bf16 or auto, got '" + name + "'");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Auto: return "auto";
  }
  return "?";
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device{};
  if (name == "cuda") return Device{Device::Kind::Cuda, 0};
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() <= 8 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device{Device::Kind::Cuda, std::atoi(name.c_str() + 5)};
  fail("device '" + name + "'", "expected cpu, cuda or cuda:N");
}

std::string device_name(const Device& device) {
  if (device.kind == Device::Kind::Cpu) return "cpu";
  return "cuda:" + std::to_string(device.index);
}

namespace models {

at::Device torch_device(const Device& device) {
  return device.kind == Device::Kind::Cpu ? at::Device(at::kCPU) : at::Device(at::kCUDA, static_cast<int8_t>(device.index));
}

at::Tensor to_device(const at::Tensor& t, const at::Device& device) {
  return t.defined() && t.device() != device ? t.to(device) : t;
}

at::Tensor to_host(const at::Tensor& t) { return t.to(at::kCPU).contiguous(); }

void require_supported_device(const Device& device) {
  if (device.kind == Device::Kind::Cpu) return;
  const std::string what = "device '" + device_name(device) + "'";
  if (!at::hasCUDA())
    fail(what, "no CUDA here: this segkit's LibTorch is CPU-only or no NVIDIA GPU is visible (docs/cuda.md)");
  const auto gpus = static_cast<int>(at::getNumGPUs());
  if (device.index >= gpus) fail(what, "no such GPU: this machine has " + std::to_string(gpus) + " (cuda:0 to cuda:" +
                                           std::to_string(gpus - 1) + ")");
  // float32 means float32: cuDNN's convolutions would otherwise round to TF32 (cuBLAS's
  // products do not by default).
  at::globalContext().setAllowTF32CuDNN(false);
}

void require_cpu_device(const Device& device, const std::string& title) {
  if (device.kind != Device::Kind::Cpu)
    fail("device '" + device_name(device) + "'", title + " models run on the CPU only in this segkit (device \"cpu\")");
}

}  // namespace models
}  // namespace segkit
