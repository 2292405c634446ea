#pragma once
// group_norm(x), or relu(group_norm(x)), in place on a channels-last float32 map: the
// statistics in double per row, summed in a fixed order (the same result for any thread
// count), then one pass that scales, shifts (and clamps) each value, and can write a bfloat16
// copy for the next product from the same pass.
#include <ATen/core/Tensor.h>

namespace segkit::kernels {

// x: B × C × H × W; weight, bias: C (the norm's affine), `groups` dividing C. A float32
// channels-last x on the CPU takes the kernel; any other (another layout, dtype or device, or
// the ATen path forced) ATen's group_norm (and relu), copied back into x. With copy_type
// bfloat16, also returns the result rounded to bfloat16 (x's sizes, channels-last); otherwise
// an undefined tensor.
at::Tensor group_norm_(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                       double eps, bool relu, at::ScalarType copy_type = at::ScalarType::Undefined);

}  // namespace segkit::kernels
