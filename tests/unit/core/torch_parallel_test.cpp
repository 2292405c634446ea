// core/torch_parallel.h: LibTorch's worker threads run a parallel region in the caller's state;
// torch_parallel_chunks hands every index out once, in whole chunks.
#include <gtest/gtest.h>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <vector>

#include "core/torch_parallel.h"
#include "segkit/threads.h"

TEST(TorchParallelFor, WorkersMayUpdateInferenceTensorsInPlace) {
  const int threads = segkit::num_threads();
  segkit::set_num_threads(2);
  std::atomic<int> on_workers{0};
  {
    c10::InferenceMode inference;
    at::Tensor t = at::zeros({64});
    // With plain at::parallel_for, every worker but the caller's thread throws here.
    EXPECT_NO_THROW(segkit::torch_parallel_for(0, 64, 1, [&](int64_t begin, int64_t end) {
      if (at::get_thread_num() != 0) ++on_workers;
      EXPECT_TRUE(c10::InferenceMode::is_enabled());
      for (int64_t i = begin; i < end; ++i) t[i].fill_(double(i));
    }));
    for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(t[i].item<float>(), float(i));
  }
  segkit::set_num_threads(threads);
  // Without OpenMP in this build at::parallel_for runs on the calling thread alone.
  if (on_workers.load() == 0) GTEST_SKIP() << "the region never reached a second thread, so it proved nothing";
}

TEST(TorchParallelFor, WorkersKeepTheCallersGradMode) {
  const int threads = segkit::num_threads();
  segkit::set_num_threads(2);
  for (bool grad : {false, true}) {
    c10::AutoGradMode mode(grad);
    std::atomic<int> differing{0};
    segkit::torch_parallel_for(0, 16, 1, [&](int64_t, int64_t) { differing += c10::GradMode::is_enabled() != grad; });
    EXPECT_EQ(differing.load(), 0) << "grad mode " << grad;
  }
  segkit::set_num_threads(threads);
}

TEST(TorchParallelChunks, EveryIndexOnceInAlignedChunksInTheCallersState) {
  const int threads = segkit::num_threads();
  segkit::set_num_threads(2);
  c10::InferenceMode inference;
  for (const int64_t chunk : {1, 7, 64, 1000}) {
    std::vector<std::atomic<int>> seen(150);
    std::atomic<int> misaligned{0}, outside_mode{0};
    segkit::torch_parallel_chunks(10, 160, chunk, [&](int64_t begin, int64_t end) {
      misaligned += (begin - 10) % chunk != 0 || end - begin > chunk || (end - begin < chunk && end != 160);
      outside_mode += !c10::InferenceMode::is_enabled();
      for (int64_t i = begin; i < end; ++i) ++seen[size_t(i - 10)];
    });
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].load(), 1) << "index " << i + 10 << ", chunk " << chunk;
    EXPECT_EQ(misaligned.load(), 0) << "chunk " << chunk;
    EXPECT_EQ(outside_mode.load(), 0) << "chunk " << chunk;
  }
  int calls = 0;
  segkit::torch_parallel_chunks(5, 5, 4, [&](int64_t, int64_t) { ++calls; });
  segkit::torch_parallel_chunks(0, 3, 0, [&](int64_t begin, int64_t end) { calls += int(end - begin == 1) * 10; });
  EXPECT_EQ(calls, 30);  // nothing for the empty range; a chunk of 0 taken as 1
  segkit::set_num_threads(threads);
}
