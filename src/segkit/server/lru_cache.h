#pragma once
// A thread-safe least-recently-used cache bounded by the bytes its values occupy, for the
// server's embeddings and mask inputs. Values are shared, so an entry evicted while a request
// still uses it stays alive until that request is done.
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace segkit::server {

struct CacheStats {
  size_t entries = 0, bytes = 0, capacity_bytes = 0;
  size_t hits = 0, misses = 0, evictions = 0;
};

template <typename V>
class LruCache {
 public:
  explicit LruCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const V> get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // Inserts (or replaces) and evicts from the cold end until the total fits. A value larger
  // than the whole capacity is not kept: returns false.
  bool put(const std::string& key, std::shared_ptr<const V> value, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    erase_locked(key);
    if (bytes > capacity_) return false;
    while (bytes_ + bytes > capacity_ && !order_.empty()) {
      erase_locked(order_.back().key);
      ++evictions_;
    }
    order_.push_front(Entry{key, std::move(value), bytes});
    index_[key] = order_.begin();
    bytes_ += bytes;
    return true;
  }

  bool erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return erase_locked(key);
  }

  CacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return CacheStats{order_.size(), bytes_, capacity_, hits_, misses_, evictions_};
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const V> value;
    size_t bytes;
  };
  bool erase_locked(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  mutable std::mutex mutex_;
  size_t capacity_;
  size_t bytes_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace segkit::server
