#pragma once
// glibc's malloc maps every block over its (adaptive) threshold with fresh pages and gives the
// top of the heap back to the system once more than twice that is free. Each prediction's masks
// (a few MB of bytes per prompt at photo size) then page-faults anew; on this VM a fault costs
// 13–16 µs (bench_page_faults), which made copying one prompt's three masks take 20 ms, as
// long as decoding them.
// The models call this when they are built: blocks up to 64 MB come from the heap, and up to
// 1 GB of free heap stays mapped for the next request or stage (Mask2Former's temporaries at
// 800×1216 pass 256 MB: kept, its page faults halve and its pixel decoder takes 0.6 of the time).
// Long runs release it explicitly (the mask generator trims after each image). Settings the
// user made through glibc's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ environment
// variables are left alone.
namespace segkit::core {

void keep_freed_heap_for_reuse();  // idempotent, thread-safe; a no-op outside glibc

}  // namespace segkit::core
