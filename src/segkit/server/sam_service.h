#pragma once
// The API of `segkit serve` over one SAM model (docs/server.md): images uploaded and encoded
// once into a cache, prompts answered from cached embeddings, segment everything as jobs.
// HTTP itself is server/http_app's. The image store and the job registry are the server's
// (other services read the uploads and share the job limit); without a SAM model the upload,
// image, job and health routes still work and predict, generate and /v1/model answer 404.
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
  // `model` may be null (no SAM model hosted).
  SamService(std::shared_ptr<const SamModel> model, const ServerLimits& limits, EmbeddingStore& store, JobRegistry& jobs);
  std::vector<Route> routes();

 private:
  struct MaskInput {
    std::string image_id;
    std::vector<float> logits;  // low_res × low_res
  };

  std::shared_ptr<const StoredImage> image_or_404(const std::string& id);
  JobSnapshot job_or_404(const std::string& id);
  const SamModel& model_or_404() const;
  void health(httplib::Response& res);
  void describe_model(httplib::Response& res);
  void upload(const std::string& body, httplib::Response& res);
  void predict(const httplib::Request& req, httplib::Response& res, const std::string& body);
  void generate(const httplib::Request& req, httplib::Response& res, const std::string& body);

  std::shared_ptr<const SamModel> model_;
  ServerLimits limits_;
  EmbeddingStore& store_;
  LruCache<MaskInput> mask_inputs_;
  JobRegistry& jobs_;
};

}  // namespace segkit::server
