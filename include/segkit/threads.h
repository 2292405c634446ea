#pragma once
namespace segkit {
// Sets the number of threads LibTorch (and our own parallel loops) use; 0 = all cores.
// Results are deterministic for a fixed thread count.
void set_num_threads(int threads);
int num_threads();
}  // namespace segkit
