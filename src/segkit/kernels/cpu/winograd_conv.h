#pragma once
// 3×3 float32 convolutions (stride 1, padding 1) by oneDNN's Winograd F(4×4, 3×3) kernel, with
// the weights transformed once: about 2.4× fewer multiply-adds than the direct convolution ATen
// runs, within about 1e-6 (relative L2) of it. oneDNN has the kernel for AVX-512 in its 2.x
// releases, on its blocked layout (16 channels a block); inputs and outputs are reordered to
// and from it.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

namespace segkit::kernels {

class WinogradConv3x3 {
 public:
  // weight: O×C×3×3 float32, bias: O float32 or undefined. Null where segkit is built without
  // oneDNN, or oneDNN has no Winograd kernel for these channel counts on this CPU: callers keep
  // their direct convolution then.
  static std::shared_ptr<const WinogradConv3x3> prepare(const at::Tensor& weight, const at::Tensor& bias);
  ~WinogradConv3x3();

  // x: B×C×H×W float32 on the CPU, any memory format → B×O×H×W float32, channels-last. Fails
  // (segkit::Error) for a shape oneDNN's kernel refuses; `supports` tells beforehand (false
  // too while the ATen path is forced: kernels/aten_path.h).
  at::Tensor operator()(const at::Tensor& x) const;
  bool supports(const at::Tensor& x) const;

  struct State;

 private:
  explicit WinogradConv3x3(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace segkit::kernels
