#pragma once
// bfloat16 linear layers on oneDNN's matmul primitive, with the weights reordered once into the
// blocked layout its kernels read fastest. ATen's bfloat16 linear hands oneDNN the plain layout
// on every call, which measured 6–12% slower per product on ViT-B's shapes.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

namespace segkit::kernels {

class PackedLinear {
 public:
  // weight: N×K bfloat16, bias: N bfloat16 or undefined; `rows` is the row count the layout is
  // chosen for (other counts work too). Null where segkit is built without oneDNN or oneDNN has
  // no fast bfloat16 kernel for this CPU: callers keep the plain weights then.
  static std::shared_ptr<const PackedLinear> pack(const at::Tensor& weight, const at::Tensor& bias, int64_t rows);
  ~PackedLinear();

  int64_t in_features() const;
  int64_t out_features() const;
  // x: (…, K) bfloat16 → (…, N) bfloat16: x·weightᵀ + bias, accumulated in float32.
  at::Tensor operator()(const at::Tensor& x) const;

  struct State;

 private:
  explicit PackedLinear(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace segkit::kernels
