#pragma once
// at::parallel_for whose workers run with the caller's LibTorch thread-local state.
// OpenMP workers do not inherit it: a worker outside the caller's InferenceMode may not update
// an inference tensor in place ("Inplace update to inference tensor outside InferenceMode"),
// and grad mode or autocast would silently differ between the caller's chunk and the others.
// Every segkit loop over at::parallel_for goes through here, so no region can forget it.
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

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

}  // namespace segkit
