#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace segkit {

size_t parallel_workers(size_t n, int threads) {
  const size_t wanted = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min(wanted, n));
}

void parallel_for(size_t n, int threads, const std::function<void(size_t, size_t)>& fn) {
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto work = [&](size_t worker) {
    for (size_t i; !stop && (i = next++) < n;) {
      try {
        fn(i, worker);
      } catch (...) {
        errors[i] = std::current_exception();
        stop = true;
      }
    }
  };
  const size_t workers = parallel_workers(n, threads);
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace segkit
