#pragma once
// Which hand-written kernels this CPU can run, checked once at run time: the kernels are
// compiled with per-function targets and called only when these say yes.

namespace segkit::core {

// AVX-512 F, BW, VL and DQ with FMA (the float32 kernels). False off x86-64 or where the
// compiler has no CPU-feature builtins.
bool cpu_has_avx512();
// The above and AVX-512 BF16 (the bfloat16 kernels).
bool cpu_has_avx512_bf16();
// The above and AMX tiles with bfloat16 products, which the operating system lets this process
// use (Linux asks each process to request the tile state once; this does). False after
// allow_amx(false).
bool cpu_has_amx_bf16();
// Whether cpu_has_amx_bf16 may say yes: tests turn AMX off to check the AVX-512 paths on CPUs
// that have it.
void allow_amx(bool allowed);

}  // namespace segkit::core
