// What a page fault costs on this machine: maps 256 MiB of fresh anonymous memory, writes one
// byte per 4 KiB page, then writes the same pages again; the difference is the kernel's cost of
// providing a page. Prints one JSON line. On the development VM a first touch costs 13–16 µs
// (under 1 µs is usual on bare metal), which is why segkit keeps freed memory for reuse
// (core/memory_cache, core/heap_reuse) and why peers that allocate as they run are slow here
// (docs/performance.md).
//
//   bench_page_faults
#include <sys/mman.h>

#include <chrono>
#include <cstdio>

using Clock = std::chrono::steady_clock;
static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main() {
  const size_t bytes = size_t(256) << 20, page = 4096, pages = bytes / page;
  auto* p = static_cast<unsigned char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "bench_page_faults: cannot map %zu bytes\n", bytes);
    return 1;
  }
  auto t = Clock::now();
  for (size_t i = 0; i < bytes; i += page) p[i] = 1;
  const double first = since(t);
  t = Clock::now();
  for (size_t i = 0; i < bytes; i += page) p[i] = 2;
  const double again = since(t);
  munmap(p, bytes);
  std::printf("{\"bench\":\"first_touch\",\"pages\":%zu,\"first_touch_us_per_page\":%.3f,\"again_us_per_page\":%.4f}\n",
              pages, first * 1e6 / pages, again * 1e6 / pages);
  return 0;
}
