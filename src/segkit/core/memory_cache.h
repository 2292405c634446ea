#pragma once
// LibTorch's default CPU allocator hands every large tensor to malloc, which maps fresh pages
// for blocks over 32 MiB and returns them on free: each training step then page-faults all of
// its activations again, which here made a U-Net step 3–4× slower than the arithmetic it does
// (and cost SAM's encoder a sixth of its time). This cache keeps freed large blocks for reuse
// by the next tensor of the same size, up to 1 GB idle (the longest-idle blocks are freed first
// when it is full); the models install it when they are built.
namespace segkit::core {

// Installs the caching CPU allocator for the rest of the process (idempotent, thread-safe).
// Tensors allocated before keep their own deleter, so installing it late is safe.
void use_tensor_memory_cache();

}  // namespace segkit::core
