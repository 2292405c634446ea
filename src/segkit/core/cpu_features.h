#pragma once
// Which hand-written kernels this CPU can run, checked once at run time: the kernels are
// compiled with per-function targets and called only when these say yes.

namespace segkit::core {

// AVX-512 F, BW, VL and DQ with FMA (the float32 kernels). False off x86-64 or where the
// compiler has no CPU-feature builtins.
bool cpu_has_avx512();
// The above and AVX-512 BF16 (the bfloat16 kernels).
bool cpu_has_avx512_bf16();

}  // namespace segkit::core
