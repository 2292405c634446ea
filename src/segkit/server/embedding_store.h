#pragma once
// Uploaded images and their SAM embeddings, kept in a memory-bounded LRU cache keyed by a
// hash of the uploaded bytes. The image encoder runs on one worker thread of its own, so
// decoder requests (which only read a cached embedding) never queue behind an encoding, and
// two uploads of the same bytes share one encoding. Without a SAM model (a server of other
// families only) uploads are kept as they are, with an empty embedding.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "segkit/sam.h"
#include "server/lru_cache.h"

namespace segkit::server {

struct StoredImage {
  std::string id;          // hex content hash of the uploaded bytes
  int width = 0, height = 0;
  SamEmbedding embedding;  // empty without a SAM model
  std::string encoded;     // the uploaded bytes, decoded again when the whole image is needed
  size_t bytes() const { return embedding.data.size() * sizeof(float) + encoded.size() + sizeof(StoredImage); }
};

struct StoreLimits {
  size_t cache_bytes = size_t(2048) << 20;
  int64_t max_pixels = 40'000'000;
  size_t max_pending_encodes = 16;  // uploads waiting for the encoder beyond this are refused (503)
};

class EmbeddingStore {
 public:
  // `model` may be null: nothing is encoded.
  EmbeddingStore(std::shared_ptr<const SamModel> model, StoreLimits limits);
  ~EmbeddingStore();
  EmbeddingStore(const EmbeddingStore&) = delete;
  EmbeddingStore& operator=(const EmbeddingStore&) = delete;

  struct Added {
    std::shared_ptr<const StoredImage> image;
    bool cached = false;  // true when no encoding was needed
  };
  // HttpError 400 (not an image), 413 (too many pixels), 503 (encoder busy or shutting down).
  Added add(std::string bytes);
  std::shared_ptr<const StoredImage> find(const std::string& id);
  bool erase(const std::string& id);
  CacheStats stats() const { return cache_.stats(); }
  size_t pending_encodes() const;
  // Refuses new uploads and fails those waiting; idempotent.
  void shutdown();

 private:
  struct Task {
    std::string id, bytes;
    Image image;
    std::promise<std::shared_ptr<const StoredImage>> done;
  };
  void worker_loop();
  std::shared_ptr<const StoredImage> keep_unencoded(const std::string& id, std::string bytes, const Image& image);

  std::shared_ptr<const SamModel> model_;
  StoreLimits limits_;
  LruCache<StoredImage> cache_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  std::map<std::string, std::shared_future<std::shared_ptr<const StoredImage>>> in_flight_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace segkit::server
