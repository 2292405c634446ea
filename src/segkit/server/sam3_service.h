#pragma once
// The SAM 3 side of `segkit serve` (docs/server.md): POST /v1/images/{id}/predict with "text"
// (and/or exemplar boxes) finds every instance of the phrases on an uploaded image. Each image's
// features are computed once per model and kept (LRU) for the next phrase; uploads are the
// server's store, and the work counts against the server's job limit.
#include <memory>
#include <string>
#include <vector>

#include "segkit/sam3.h"
#include "segkit/server.h"
#include "server/embedding_store.h"
#include "server/http_app.h"
#include "server/jobs.h"
#include "server/lru_cache.h"

namespace segkit::server {

struct NamedSam3 {
  std::string name;
  std::shared_ptr<const Sam3Model> model;
};

class Sam3Service {
 public:
  // `models` may be empty: predict with text then answers 404. `other_models`: the server's
  // other models' names, so that naming one is told apart from naming nothing hosted.
  Sam3Service(std::vector<NamedSam3> models, std::vector<std::string> other_models, const ServerLimits& limits,
              EmbeddingStore& store, JobRegistry& jobs);
  bool hosts_any() const { return !models_.empty(); }
  // Whether a predict body is for SAM 3 (sam3_request.h).
  bool wants(const std::string& body) const;
  void predict(const httplib::Request& req, httplib::Response& res, const std::string& body);

 private:
  const NamedSam3& model_named(const std::string& name) const;  // "" = the first; HttpError otherwise

  std::vector<NamedSam3> models_;
  std::vector<std::string> names_, other_models_;
  ServerLimits limits_;
  EmbeddingStore& store_;
  JobRegistry& jobs_;
  LruCache<Sam3ImageEmbedding> features_;  // by model name and image id
};

}  // namespace segkit::server
