#pragma once
// Linear layers (float32 or bfloat16) on oneDNN's matmul primitive, with the weights reordered
// once into the blocked layout its kernels read fastest, and the bias, the activation or the
// residual sum done inside the product. ATen's bfloat16 linear hands oneDNN the plain layout on
// every call (6-12% slower per product on ViT-B's shapes); the float32 GEMM takes no epilogue,
// so a bias or a sum cost a pass over the output (20-30% on Mask2Former's feed-forward shapes).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

namespace segkit::kernels {

// What happens to x·weightᵀ + bias before it is written.
enum class LinearActivation { kNone, kRelu, kGelu };  // kGelu: the exact (erf) GELU

class PackedLinear {
 public:
  // weight: N×K float32 or bfloat16, bias: N of the same type or undefined; `rows` is the row
  // count the layout is chosen for (other counts work too); `type` the products' type
  // (float32 or bfloat16; undefined: the weight's), the weights converted to it as they are
  // packed. Null where segkit is built without oneDNN or oneDNN has no fast kernel for this
  // type on this CPU: callers keep the plain weights then.
  static std::shared_ptr<const PackedLinear> pack(const at::Tensor& weight, const at::Tensor& bias, int64_t rows,
                                                  at::ScalarType type = at::ScalarType::Undefined);
  ~PackedLinear();

  int64_t in_features() const;
  int64_t out_features() const;
  at::ScalarType type() const;
  // x: (…, K) of the weights' type → (…, N): activation(x·weightᵀ + bias), accumulated in
  // float32 and written in the weights' type or in float32 (out_type; from bfloat16 weights the
  // sums unrounded, with no widening pass after).
  at::Tensor operator()(const at::Tensor& x, LinearActivation activation = LinearActivation::kNone,
                        at::ScalarType out_type = at::ScalarType::Undefined) const;
  // y += x·weightᵀ + bias, with y float32 (…, N) and x (…, K) of the weights' type.
  void accumulate(const at::Tensor& y, const at::Tensor& x) const;

  struct State;

 private:
  explicit PackedLinear(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace segkit::kernels
