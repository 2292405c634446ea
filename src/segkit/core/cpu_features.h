#pragma once
// Which hand-written kernels this CPU can run, checked once at run time: the kernels are
// compiled with per-function targets and called only when these say yes.

namespace segkit::core {

// The kernel families, each needing the CPU features of the one before it and more.
enum class CpuKernels {
  portable,     // none of ours: ATen's and oneDNN's code alone
  avx512,       // AVX-512 F, BW, VL and DQ with FMA: the float32 kernels
  avx512_bf16,  // and AVX-512 BF16: the bfloat16 kernels
  amx_bf16,     // and AMX tiles with bfloat16 products: the bfloat16 attention products
};

// AVX-512 F, BW, VL and DQ with FMA (the float32 kernels). False off x86-64 or where the
// compiler has no CPU-feature builtins.
bool cpu_has_avx512();
// The above and AVX-512 BF16 (the bfloat16 kernels).
bool cpu_has_avx512_bf16();
// The above and AMX tiles with bfloat16 products, which the operating system lets this process
// use (Linux asks each process to request the tile state once; this does).
bool cpu_has_amx_bf16();
// Each of the three answers no for a family above the ceiling, whatever the CPU has: tests
// run every kernel path a CPU has, one after another, on one machine. Default: no ceiling.
void limit_cpu_kernels(CpuKernels ceiling);
// The best family this CPU has, whatever the ceiling.
CpuKernels cpu_kernels_available();

}  // namespace segkit::core
