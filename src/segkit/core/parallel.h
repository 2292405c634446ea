#pragma once
// A small work pool for per-image loops: items are handed out in index order, the first
// failure stops new items, and the failure with the lowest index is rethrown (every lower
// index has been taken by then, so the error does not depend on the thread count).
#include <cstddef>
#include <functional>

namespace segkit {

// Workers used for n items: `threads` (0 = all cores), at most n, at least 1.
size_t parallel_workers(size_t n, int threads);

// Runs fn(item, worker) for every item in [0, n), worker in [0, parallel_workers(n, threads)).
void parallel_for(size_t n, int threads, const std::function<void(size_t item, size_t worker)>& fn);

}  // namespace segkit
