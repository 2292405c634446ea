#include "core/memory_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace segkit::core {

namespace {

constexpr size_t kSmallest = 1 << 20;          // smaller blocks: malloc's own free lists do well
constexpr size_t kMaxCached = size_t(1) << 30;  // bytes kept idle at most (counts in resident memory)

class CachingCpuAllocator final : public c10::Allocator {
 public:
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t n) override { return allocate_block(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return allocate_block(n); }
#endif
  // raw_allocate/raw_deallocate (used inside ATen) free through this: it must accept every block.
  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::release; }

 private:
  static CachingCpuAllocator& self();
  static void release(void* ptr);

  c10::DataPtr allocate_block(size_t n) const {
    const c10::Device cpu(c10::DeviceType::CPU);
    std::lock_guard<std::mutex> lock(mutex_);
    void* p = nullptr;
    auto it = n < kSmallest ? idle_.end() : idle_.find(n);
    if (it != idle_.end() && !it->second.empty()) {
      const auto block = it->second.back();
      it->second.pop_back();
      p = block->second;
      order_.erase(block);
      idle_bytes_ -= n;
    } else {
      p = c10::alloc_cpu(n);
    }
    sizes_[p] = n;
    return {p, p, &CachingCpuAllocator::release, cpu};
  }

  using Block = std::list<std::pair<size_t, void*>>::iterator;
  // Frees the longest-idle block (the cache is full and a newer block wants its place).
  void evict_oldest() const {
    const auto [n, ptr] = order_.front();
    auto& same = idle_[n];
    same.erase(std::find(same.begin(), same.end(), order_.begin()));
    order_.pop_front();
    idle_bytes_ -= n;
    c10::free_cpu(ptr);
  }

  mutable std::mutex mutex_;
  mutable std::list<std::pair<size_t, void*>> order_;  // idle blocks, longest idle first
  mutable std::unordered_map<size_t, std::vector<Block>> idle_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable size_t idle_bytes_ = 0;

  friend void segkit::core::use_tensor_memory_cache();
};

CachingCpuAllocator& CachingCpuAllocator::self() {
  static auto* instance = new CachingCpuAllocator();  // never destroyed: tensors may outlive main
  return *instance;
}

void CachingCpuAllocator::release(void* ptr) {
  CachingCpuAllocator& a = self();
  std::lock_guard<std::mutex> lock(a.mutex_);
  auto it = a.sizes_.find(ptr);
  if (it == a.sizes_.end()) {  // from the default allocator (alloc_cpu) before this one was installed
    c10::free_cpu(ptr);
    return;
  }
  const size_t n = it->second;
  a.sizes_.erase(it);
  if (n < kSmallest || n > kMaxCached) {
    c10::free_cpu(ptr);
    return;
  }
  // When full, the longest-idle blocks make room: sizes of work that has moved on (say, the
  // upscaled masks of the last image) must not crowd out the sizes of the work at hand.
  while (a.idle_bytes_ + n > kMaxCached) a.evict_oldest();
  a.order_.emplace_back(n, ptr);
  a.idle_[n].push_back(std::prev(a.order_.end()));
  a.idle_bytes_ += n;
}

}  // namespace

void use_tensor_memory_cache() {
  static std::once_flag once;
  std::call_once(once, [] { c10::SetCPUAllocator(&CachingCpuAllocator::self(), 1); });
}

}  // namespace segkit::core
