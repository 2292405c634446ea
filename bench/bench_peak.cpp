// What this CPU can do, to judge segkit's speed against: the peak multiply-add rate of its
// vector units (a register-only loop of 512-bit FMAs in float32 and of bfloat16 dot products,
// on one thread and on every thread at once), and the rate of the matrix products segkit runs
// (float32 through kernels/cpu/matmul, bfloat16 through ATen/oneDNN) on the encoder's MLP shape.
// Prints JSON lines; rates in GFLOP/s (one multiply-add = 2 FLOP).
//
//   bench_peak [--threads N]
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/matmul.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SEGKIT_PEAK_X86 1
#endif

using Clock = std::chrono::steady_clock;
static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

namespace {

#if SEGKIT_PEAK_X86
constexpr long kIterations = 20000000;
constexpr int kChains = 16;  // independent accumulators: more than latency × throughput

// Sums the accumulators into memory the compiler must assume is read: no loop is dropped.
__attribute__((target("avx512f"))) void keep(const __m512* acc) {
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  float sink[16];
  _mm512_storeu_ps(sink, s);
  __asm__ volatile("" : : "r"(sink) : "memory");
}

// Each returns multiply-adds done; the empty asm keeps the operand opaque so nothing folds.
__attribute__((target("avx512f"))) double fma_fp32() {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 x = _mm512_set1_ps(1e-3f), y = _mm512_set1_ps(1.0f);
  for (long i = 0; i < kIterations; ++i) {
    for (auto& a : acc) a = _mm512_fmadd_ps(x, y, a);
    __asm__ volatile("" : "+v"(x));
  }
  keep(acc);
  return double(kIterations) * kChains * 16;
}

__attribute__((target("avx512f,avx512bf16"))) double dot_bf16() {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3a803a80);
  for (long i = 0; i < kIterations; ++i) {
    for (auto& a : acc) a = _mm512_dpbf16_ps(a, x, y);
    __asm__ volatile("" : "+v"(x));
  }
  keep(acc);
  return double(kIterations) * kChains * 32;
}

// GFLOP/s of `kernel` on `threads` threads at once (the sum over threads).
double rate(double (*kernel)(), int threads) {
  std::vector<double> work(static_cast<size_t>(threads));
  const auto t = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&, i] { work[size_t(i)] = kernel(); });
  for (auto& th : pool) th.join();
  const double seconds = since(t);
  double total = 0;
  for (double w : work) total += w;
  return 2 * total / seconds / 1e9;
}

void print_peak(const char* name, double (*kernel)(), int threads) {
  const double one = rate(kernel, 1), all = rate(kernel, threads);
  std::printf("{\"bench\":\"peak\",\"kernel\":\"%s\",\"gflops_one_thread\":%.1f,\"threads\":%d,\"gflops_all_threads\":%.1f}\n",
              name, one, threads, all);
}
#endif

// Best of five products of the encoder's first MLP linear (4096×768 by 768×3072).
double product_rate(at::ScalarType type) {
  const int64_t M = 4096, K = 768, N = 3072;
  const at::Tensor x = at::randn({M, K}).to(type), w = at::randn({N, K}).to(type);
  at::Tensor y = at::empty({M, N}, x.options());
  double best = 1e30;
  for (int r = 0; r < 6; ++r) {
    const auto t = Clock::now();
    if (type == at::kFloat) segkit::kernels::matmul_into(y, x, w.t());
    else y = at::linear(x, w);
    if (r > 0) best = std::min(best, since(t));  // the first run warms up
  }
  return 2.0 * M * K * N / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_peak [--threads N]\n");
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (threads < 1) threads = 1;
#if SEGKIT_PEAK_X86
  if (__builtin_cpu_supports("avx512f")) print_peak("fma_fp32_512", fma_fp32, threads);
  if (__builtin_cpu_supports("avx512bf16")) print_peak("dot_bf16_512", dot_bf16, threads);
#endif
  at::set_num_threads(threads);
  std::printf("{\"bench\":\"matmul\",\"shape\":[4096,768,3072],\"threads\":%d,\"gflops_fp32\":%.1f,\"gflops_bf16\":%.1f}\n",
              threads, product_rate(at::kFloat), product_rate(at::kBFloat16));
  return 0;
}
