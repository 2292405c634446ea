#include "core/cpu_features.h"

#include <atomic>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace segkit::core {

namespace {

std::atomic<CpuKernels> ceiling{CpuKernels::amx_bf16};

bool allowed(CpuKernels family) { return int(family) <= int(ceiling.load(std::memory_order_relaxed)); }

bool avx512_present() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

bool avx512_bf16_present() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool has = avx512_present() && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

// CPUID leaf 7 (AMX-BF16, AMX-TILE) and, on Linux, the tile data state granted by
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
bool amx_usable() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx_bf16 = edx & (1u << 22), amx_tile = edx & (1u << 24);
  if (!amx_bf16 || !amx_tile) return false;
  constexpr long kRequestPermission = 0x1023, kTileData = 18;
  return syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
#else
  return false;
#endif
}

bool amx_bf16_present() {
  static const bool has = avx512_bf16_present() && amx_usable();
  return has;
}

}  // namespace

bool cpu_has_avx512() { return avx512_present() && allowed(CpuKernels::avx512); }

bool cpu_has_avx512_bf16() { return avx512_bf16_present() && allowed(CpuKernels::avx512_bf16); }

bool cpu_has_amx_bf16() { return amx_bf16_present() && allowed(CpuKernels::amx_bf16); }

void limit_cpu_kernels(CpuKernels family) { ceiling.store(family, std::memory_order_relaxed); }

CpuKernels cpu_kernels_available() {
  if (amx_bf16_present()) return CpuKernels::amx_bf16;
  if (avx512_bf16_present()) return CpuKernels::avx512_bf16;
  if (avx512_present()) return CpuKernels::avx512;
  return CpuKernels::portable;
}

}  // namespace segkit::core
