#pragma once
// The Mask2Former side of `segkit serve` (docs/server.md): POST /v1/images/{id}/segment runs a
// hosted Mask2Former model on an uploaded image (semantic, instance or panoptic) and answers
// every segment with its label and a COCO compressed RLE. Uploads are the SAM service's store;
// the work counts against the server's job limit.
#include <memory>
#include <string>
#include <vector>

#include "segkit/mask2former.h"
#include "segkit/server.h"
#include "server/embedding_store.h"
#include "server/http_app.h"
#include "server/jobs.h"

namespace segkit::server {

struct NamedMask2Former {
  std::string name;
  std::shared_ptr<const Mask2FormerModel> model;
};

class Mask2FormerService {
 public:
  // `models` may be empty: segment then answers 404. `other_models` are the names of the
  // server's other models, so that naming one is told apart from naming nothing hosted.
  Mask2FormerService(std::vector<NamedMask2Former> models, std::vector<std::string> other_models,
                     const ServerLimits& limits, EmbeddingStore& store, JobRegistry& jobs);
  std::vector<Route> routes();

 private:
  const NamedMask2Former& model_named(const std::string& name) const;  // "" = the first; HttpError otherwise
  void segment(const httplib::Request& req, httplib::Response& res, const std::string& body);

  std::vector<NamedMask2Former> models_;
  std::vector<std::string> other_models_;
  ServerLimits limits_;
  EmbeddingStore& store_;
  JobRegistry& jobs_;
};

}  // namespace segkit::server
