// The words for precisions and devices (model.h), and the one place that says which devices
// this build runs on.
#include <cstdlib>

#include "models/registry.h"
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

void require_supported_device(const Device& device) {
  if (device.kind != Device::Kind::Cpu)
    fail("device '" + device_name(device) + "'", "segkit runs models on the CPU only (device \"cpu\")");
}

}  // namespace models
}  // namespace segkit
