#include "server/embedding_store.h"

#include "hub/sha256.h"
#include "segkit/error.h"
#include "server/http_error.h"

namespace segkit::server {

EmbeddingStore::EmbeddingStore(std::shared_ptr<const SamModel> model, StoreLimits limits)
    : model_(std::move(model)), limits_(limits), cache_(limits.cache_bytes) {
  if (model_) worker_ = std::thread([this] { worker_loop(); });
}

EmbeddingStore::~EmbeddingStore() {
  shutdown();
  if (worker_.joinable()) worker_.join();
}

void EmbeddingStore::shutdown() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    for (auto& t : dropped) in_flight_.erase(t.id);
  }
  wake_.notify_all();
  for (auto& t : dropped)
    t.done.set_exception(std::make_exception_ptr(HttpError(503, "the server is shutting down")));
}

size_t EmbeddingStore::pending_encodes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_flight_.size();
}

std::shared_ptr<const StoredImage> EmbeddingStore::find(const std::string& id) { return cache_.get(id); }

bool EmbeddingStore::erase(const std::string& id) { return cache_.erase(id); }

EmbeddingStore::Added EmbeddingStore::add(std::string bytes) {
  if (bytes.empty()) throw HttpError(400, "image: empty request body");
  // 128 bits of SHA-256 name the image: enough to never collide, short enough for a URL.
  const std::string id = sha256_hex(bytes).substr(0, 32);
  if (auto hit = cache_.get(id)) return {hit, true};

  std::shared_future<std::shared_ptr<const StoredImage>> waiting;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) throw HttpError(503, "the server is shutting down");
    auto it = in_flight_.find(id);
    if (it != in_flight_.end()) waiting = it->second;
  }
  if (!waiting.valid()) {
    // Decode on the request's thread: a bad upload is refused without touching the encoder queue.
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    auto [w, h] = probe_image_size(data, bytes.size());
    if (w > 0 && h > 0 && int64_t(w) * h > limits_.max_pixels)
      throw HttpError(413, "image: " + std::to_string(w) + "x" + std::to_string(h) + " pixels is more than the limit of " +
                               std::to_string(limits_.max_pixels));
    Image image;
    try {
      image = decode_image(data, bytes.size(), "image", ImageLimits{limits_.max_pixels});
    } catch (const Error& e) {
      throw HttpError(400, e.what());
    }
    if (int64_t(image.width) * image.height > limits_.max_pixels)
      throw HttpError(413, "image: more pixels than the limit of " + std::to_string(limits_.max_pixels));
    if (!model_) return {keep_unencoded(id, std::move(bytes), image), false};

    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) throw HttpError(503, "the server is shutting down");
    auto it = in_flight_.find(id);  // another upload of the same bytes may have started meanwhile
    if (it != in_flight_.end()) {
      waiting = it->second;
    } else {
      if (queue_.size() >= limits_.max_pending_encodes)
        throw HttpError(503, "the image encoder is busy (" + std::to_string(queue_.size()) + " uploads waiting); try again");
      Task task;
      task.id = id;
      task.bytes = std::move(bytes);
      task.image = std::move(image);
      waiting = task.done.get_future().share();
      in_flight_[id] = waiting;
      queue_.push_back(std::move(task));
      wake_.notify_one();
    }
  }
  return {waiting.get(), false};
}

std::shared_ptr<const StoredImage> EmbeddingStore::keep_unencoded(const std::string& id, std::string bytes, const Image& image) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw HttpError(503, "the server is shutting down");
  }
  auto stored = std::make_shared<StoredImage>();
  stored->id = id;
  stored->width = image.width;
  stored->height = image.height;
  stored->encoded = std::move(bytes);
  std::shared_ptr<const StoredImage> done = stored;
  cache_.put(id, done, done->bytes());
  return done;
}

void EmbeddingStore::worker_loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      SamPredictor predictor(model_);
      predictor.set_image(task.image);
      auto stored = std::make_shared<StoredImage>();
      stored->id = task.id;
      stored->width = task.image.width;
      stored->height = task.image.height;
      stored->embedding = predictor.embedding();
      stored->encoded = std::move(task.bytes);
      std::shared_ptr<const StoredImage> done = stored;
      // An image larger than the whole cache is still answered; it just is not kept.
      cache_.put(task.id, done, done->bytes());
      {
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_.erase(task.id);
      }
      task.done.set_value(std::move(done));
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_.erase(task.id);
      }
      task.done.set_exception(std::current_exception());
    }
  }
}

}  // namespace segkit::server
