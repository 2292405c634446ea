#pragma once
// at::parallel_for whose workers run with the caller's LibTorch thread-local state.
// OpenMP workers do not inherit it: a worker outside the caller's InferenceMode may not update
// an inference tensor in place ("Inplace update to inference tensor outside InferenceMode"),
// and grad mode or autocast would silently differ between the caller's chunk and the others.
// Every segkit loop over at::parallel_for goes through here, so no region can forget it.
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace segkit {

template <class F>
void torch_parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  const at::ThreadLocalState caller;
  at::parallel_for(begin, end, grain, [&](int64_t chunk_begin, int64_t chunk_end) {
    at::ThreadLocalStateGuard same_state(caller);
    fn(chunk_begin, chunk_end);
  });
}

// fn(chunk_begin, chunk_end) over [begin, end) in chunks of `chunk`, each thread taking the next
// chunk when it has finished one: for loops whose iterations cost unequal amounts, where
// at::parallel_for's split into one equal range per thread leaves the others waiting for the
// slowest range. Which thread runs a chunk varies from run to run; what a chunk computes must
// not depend on it.
template <class F>
void torch_parallel_chunks(int64_t begin, int64_t end, int64_t chunk, const F& fn) {
  if (begin >= end) return;
  chunk = std::max<int64_t>(chunk, 1);
  std::atomic<int64_t> next{begin};
  const int64_t workers = std::min<int64_t>(at::get_num_threads(), (end - begin + chunk - 1) / chunk);
  torch_parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    for (int64_t b = next.fetch_add(chunk); b < end; b = next.fetch_add(chunk)) fn(b, std::min(end, b + chunk));
  });
}

}  // namespace segkit
