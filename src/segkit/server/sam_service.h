#pragma once
// The API of `segkit serve` over one SAM model (docs/server.md): images uploaded and encoded
// once into a cache, prompts answered from cached embeddings, segment everything as jobs.
// HTTP itself is server/http_app's.
#include <memory>
#include <string>
#include <vector>

#include "segkit/sam.h"
#include "segkit/server.h"
#include "server/embedding_store.h"
#include "server/http_app.h"
#include "server/jobs.h"
#include "server/lru_cache.h"

namespace segkit::server {

class SamService {
 public:
  SamService(std::shared_ptr<const SamModel> model, const ServerLimits& limits);
  std::vector<Route> routes();
  // Fails uploads waiting for the encoder and cancels jobs, so no HTTP thread waits on them.
  void shutdown();

 private:
  struct MaskInput {
    std::string image_id;
    std::vector<float> logits;  // low_res × low_res
  };

  std::shared_ptr<const StoredImage> image_or_404(const std::string& id);
  JobSnapshot job_or_404(const std::string& id);
  void health(httplib::Response& res);
  void describe_model(httplib::Response& res);
  void upload(const std::string& body, httplib::Response& res);
  void predict(const httplib::Request& req, httplib::Response& res, const std::string& body);
  void generate(const httplib::Request& req, httplib::Response& res, const std::string& body);

  std::shared_ptr<const SamModel> model_;
  ServerLimits limits_;
  EmbeddingStore store_;
  LruCache<MaskInput> mask_inputs_;
  JobRegistry jobs_;
};

}  // namespace segkit::server
