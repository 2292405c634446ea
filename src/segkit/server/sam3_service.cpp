#include "server/sam3_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/rle.h"
#include "server/http_error.h"
#include "server/request_json.h"
#include "server/sam3_request.h"

namespace segkit::server {

using nlohmann::json;

namespace {

constexpr int kMaxPrompts = 16;

size_t bytes_of(const Sam3ImageEmbedding& e) {
  size_t n = 0;
  for (const FloatArray& level : e.levels) n += level.data.size() * sizeof(float);
  for (const FloatArray& term : e.mask_skips) n += term.data.size() * sizeof(float);
  return n;
}

json result_json(const Sam3Result& r) {
  json instances = json::array();
  for (int i = 0; i < r.size(); ++i) {
    const Rle rle = rle_encode(r.mask(i), r.height, r.width);
    const auto& b = r.boxes[i];
    instances.push_back({{"score", r.scores[i]},
                         {"box", {b[0], b[1], b[2], b[3]}},
                         {"bbox", {b[0], b[1], b[2] - b[0], b[3] - b[1]}},
                         {"area", rle_area(rle)},
                         {"segmentation", {{"size", {r.height, r.width}}, {"counts", rle_to_string(rle)}}}});
  }
  return {{"text", r.text}, {"truncated", r.truncated}, {"instances", instances}};
}

}  // namespace

Sam3Service::Sam3Service(std::vector<NamedSam3> models, std::vector<std::string> other_models,
                         const ServerLimits& limits, EmbeddingStore& store, JobRegistry& jobs)
    : models_(std::move(models)),
      other_models_(std::move(other_models)),
      limits_(limits),
      store_(store),
      jobs_(jobs),
      features_(limits.cache_bytes) {
  for (const NamedSam3& m : models_) names_.push_back(m.name);
}

bool Sam3Service::wants(const std::string& body) const { return is_sam3_request(body, names_); }

const NamedSam3& Sam3Service::model_named(const std::string& name) const {
  if (models_.empty())
    throw HttpError(404, "this server hosts no SAM 3 model (start segkit serve with -m SAM3_MODEL to segment by words)");
  if (name.empty()) return models_.front();
  for (const auto& m : models_)
    if (m.name == name) return m;
  if (std::find(other_models_.begin(), other_models_.end(), name) != other_models_.end())
    throw HttpError(400, "model: " + name + " is not a SAM 3 model (text prompts need one)");
  throw HttpError(404, "model: no model named " + name + " is hosted (SAM 3 models: " + join_names(names_) + ")");
}

void Sam3Service::predict(const httplib::Request& req, httplib::Response& res, const std::string& body) {
  const std::string id = req.matches[1];
  const Sam3Request r = parse_sam3_request(body, kMaxPrompts);
  const NamedSam3& hosted = model_named(r.model);
  auto img = store_.find(id);
  if (!img) throw HttpError(404, "image " + id + " is not in the cache (unknown, or evicted): upload it again");

  std::vector<Sam3Result> results;
  bool cached = false;
  // The model is the heaviest thing the server runs: it takes one of the --max-jobs slots.
  jobs_.run_now([&](JobControl&) {
    const std::string key = hosted.name + "/" + id;
    std::shared_ptr<const Sam3ImageEmbedding> features = features_.get(key);
    cached = features != nullptr;
    if (!features) {
      const Image image = decode_image(reinterpret_cast<const uint8_t*>(img->encoded.data()), img->encoded.size(),
                                       "image", ImageLimits{limits_.max_image_pixels});
      auto computed = std::make_shared<Sam3ImageEmbedding>(hosted.model->encode_image(image));
      hosted.model->compute_mask_skips(*computed);  // kept for the phrases of later requests
      features_.put(key, computed, bytes_of(*computed));
      features = std::move(computed);
    }
    std::vector<std::string> phrases;
    for (const Sam3Prompt& p : r.prompts) phrases.push_back(p.phrase());
    try {
      results = hosted.model->postprocess(
          hosted.model->detect(*features, hosted.model->encode_text(phrases), r.prompts), r.options);
    } catch (const Error& e) {
      throw HttpError(400, e.what());  // prompts that do not fit the image: the client's to fix
    }
    return std::string();
  });
  json out = json::array();
  for (const Sam3Result& result : results) out.push_back(result_json(result));
  send_json(res, {{"model", hosted.name},
                  {"image_id", id},
                  {"width", results.empty() ? 0 : results[0].width},
                  {"height", results.empty() ? 0 : results[0].height},
                  {"image_features_cached", cached},
                  {"results", out}});
}

}  // namespace segkit::server
