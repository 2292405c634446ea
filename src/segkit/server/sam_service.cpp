#include "server/sam_service.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "core/json_read.h"
#include "segkit/error.h"
#include "segkit/sam_generator.h"
#include "segkit/sam_output.h"
#include "server/http_error.h"
#include "server/predict_request.h"
#include "server/request_json.h"

namespace segkit::server {

using nlohmann::json;

namespace {

std::string random_hex(int digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < digits; ++i) s.push_back(hex[rng() & 15]);
  return s;
}

SamGeneratorParams parse_generator_params(const std::string& body) {
  SamGeneratorParams p;
  const json j = parse_request_json(body);
  if (!j.is_object()) throw HttpError(400, "request body: expected a JSON object of generator parameters");
  auto number = [&](const std::string& key, const json& v) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) throw HttpError(400, key + ": expected a number");
    return v.get<double>();
  };
  auto integer = [&](const std::string& key, const json& v) {
    if (!v.is_number_integer() || std::llabs(v.get<int64_t>()) > 1'000'000) throw HttpError(400, key + ": expected an integer");
    return static_cast<int>(v.get<int64_t>());
  };
  const auto& fields = sam_generator_param_fields();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    auto field = std::find_if(fields.begin(), fields.end(), [&](const SamGeneratorParamField& f) { return k == f.name; });
    if (field == fields.end()) throw HttpError(400, k + ": unknown generator parameter");
    if (field->int_member) p.*field->int_member = integer(k, it.value());
    else p.*field->double_member = number(k, it.value());
  }
  // Bounds that keep one request from occupying the server for hours.
  if (p.points_per_side > 128) throw HttpError(400, "points_per_side: at most 128 on this server");
  if (p.crop_n_layers > 3) throw HttpError(400, "crop_n_layers: at most 3 on this server");
  try {
    p.validate();
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
  return p;
}
json job_json(const JobSnapshot& s) {
  json j{{"job_id", s.id},
         {"kind", s.kind},
         {"image_id", s.image_id},
         {"state", job_state_name(s.state)},
         {"progress", s.progress},
         {"seconds", s.seconds}};
  if (s.state == JobState::Failed) j["error"] = s.error;
  if (s.state == JobState::Done) j["result_url"] = "/v1/jobs/" + s.id + "/result";
  return j;
}

}  // namespace

SamService::SamService(std::shared_ptr<const SamModel> model, const ServerLimits& limits, EmbeddingStore& store,
                       JobRegistry& jobs)
    : model_(std::move(model)), limits_(limits), store_(store), mask_inputs_(limits.mask_input_bytes), jobs_(jobs) {}

const SamModel& SamService::model_or_404() const {
  if (!model_) throw HttpError(404, "this server hosts no SAM model (GET /v1/models lists what it hosts)");
  return *model_;
}

// One row per route; groups in a path are req.matches.
std::vector<Route> SamService::routes() {
  using Req = httplib::Request;
  using Res = httplib::Response;
  using Body = std::string;
  return {
      {"GET", "/v1/health", [this](const Req&, Res& res, const Body&) { health(res); }},
      {"GET", "/v1/model", [this](const Req&, Res& res, const Body&) { describe_model(res); }},
      {"POST", "/v1/images", [this](const Req&, Res& res, const Body& body) { upload(body, res); }},
      {"GET", R"(/v1/images/([^/]+))",
       [this](const Req& req, Res& res, const Body&) {
         auto img = image_or_404(req.matches[1]);
         send_json(res, {{"image_id", img->id}, {"width", img->width}, {"height", img->height}});
       }},
      {"DELETE", R"(/v1/images/([^/]+))",
       [this](const Req& req, Res& res, const Body&) {
         if (!store_.erase(req.matches[1])) throw HttpError(404, "image " + std::string(req.matches[1]) + " is not in the cache");
         send_json(res, {{"deleted", std::string(req.matches[1])}});
       }},
      {"POST", R"(/v1/images/([^/]+)/predict)", [this](const Req& req, Res& res, const Body& body) { predict(req, res, body); }},
      {"POST", R"(/v1/images/([^/]+)/generate)", [this](const Req& req, Res& res, const Body& body) { generate(req, res, body); }},
      {"GET", R"(/v1/jobs/([^/]+))",
       [this](const Req& req, Res& res, const Body&) { send_json(res, job_json(job_or_404(req.matches[1]))); }},
      {"DELETE", R"(/v1/jobs/([^/]+))",
       [this](const Req& req, Res& res, const Body&) {
         std::string id = req.matches[1];
         if (!jobs_.cancel(id)) throw HttpError(404, "job " + id + " is unknown (or finished long ago)");
         send_json(res, job_json(job_or_404(id)));
       }},
      {"GET", R"(/v1/jobs/([^/]+)/result)",
       [this](const Req& req, Res& res, const Body&) {
         auto job = job_or_404(req.matches[1]);
         if (job.state != JobState::Done)
           throw HttpError(409, "job " + job.id + " is " + job_state_name(job.state) + ", it has no result");
         res.status = 200;
         res.set_content(*job.result, "application/json");
       }},
  };
}

std::shared_ptr<const StoredImage> SamService::image_or_404(const std::string& id) {
  auto img = store_.find(id);
  if (!img) throw HttpError(404, "image " + id + " is not in the cache (unknown, or evicted): upload it again");
  return img;
}

JobSnapshot SamService::job_or_404(const std::string& id) {
  auto job = jobs_.get(id);
  if (!job) throw HttpError(404, "job " + id + " is unknown (or finished long ago)");
  return *job;
}

void SamService::health(httplib::Response& res) {
  auto c = store_.stats();
  auto m = mask_inputs_.stats();
  send_json(res, {{"status", "ok"},
                  {"cache", {{"entries", c.entries}, {"bytes", c.bytes}, {"capacity_bytes", c.capacity_bytes},
                             {"hits", c.hits}, {"misses", c.misses}, {"evictions", c.evictions}}},
                  {"mask_inputs", {{"entries", m.entries}, {"bytes", m.bytes}, {"evictions", m.evictions}}},
                  {"pending_encodes", store_.pending_encodes()},
                  {"jobs_running", jobs_.running()}});
}

void SamService::describe_model(httplib::Response& res) {
  const SamConfig& c = model_or_404().config();
  const ServerLimits& l = limits_;
  send_json(res, {{"architecture", "sam"},
                  {"description", c.describe()},
                  {"image_size", c.image_size},
                  {"encoder_dim", c.encoder_dim},
                  {"encoder_depth", c.encoder_depth},
                  {"embedding_shape", {c.out_chans, c.embedding_size(), c.embedding_size()}},
                  {"low_res_size", c.low_res_size()},
                  {"precision", model_->precision() == Precision::Bf16 ? "bfloat16" : "float32"},
                  {"fingerprint", model_->fingerprint()},
                  {"generate", true},
                  {"limits", {{"max_body_bytes", l.max_body_bytes}, {"max_image_pixels", l.max_image_pixels},
                              {"max_points", l.max_points}, {"max_jobs", l.max_jobs}, {"cache_bytes", l.cache_bytes}}}});
}

void SamService::upload(const std::string& body, httplib::Response& res) {
  auto added = store_.add(body);
  const auto& img = *added.image;
  send_json(res, {{"image_id", img.id}, {"width", img.width}, {"height", img.height}, {"cached", added.cached}});
}

void SamService::predict(const httplib::Request& req, httplib::Response& res, const std::string& body) {
  const std::string id = req.matches[1];
  std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
  if (format != "json" && format != "png") throw HttpError(400, "format: expected json or png");
  model_or_404();
  auto img = image_or_404(id);
  PredictRequest r = parse_predict_request(body, limits_.max_points);
  if (!r.mask_input_id.empty()) {
    auto mi = mask_inputs_.get(r.mask_input_id);
    if (!mi) throw HttpError(404, "mask_input_id " + r.mask_input_id + " is unknown or expired: predict again without it");
    if (mi->image_id != id) throw HttpError(400, "mask_input_id " + r.mask_input_id + " belongs to another image");
    r.prompt.mask_input = mi->logits;
  }
  // A predictor per request: set_embedding is a copy, so requests never share state or wait.
  SamPredictor predictor(model_);
  predictor.set_embedding(img->embedding);
  SamPrediction p = predictor.predict(r.prompt);
  const int best = p.best();
  const size_t plane = static_cast<size_t>(p.height) * p.width;
  if (format == "png") {
    std::vector<uint8_t> grey(plane);
    const uint8_t* m = p.masks.data() + best * plane;
    for (size_t i = 0; i < plane; ++i) grey[i] = m[i] ? 255 : 0;
    auto png = encode_png(grey.data(), p.width, p.height, 1);
    res.status = 200;
    res.set_content(reinterpret_cast<const char*>(png.data()), png.size(), "image/png");
    res.set_header("X-Segkit-Score", std::to_string(p.iou_predictions[best]));
    return;
  }
  auto mi = std::make_shared<MaskInput>();
  mi->image_id = id;
  const size_t low = static_cast<size_t>(p.low_res) * p.low_res;
  mi->logits.assign(p.low_res_logits.begin() + best * low, p.low_res_logits.begin() + (best + 1) * low);
  std::string mask_input_id = random_hex(24);
  mask_inputs_.put(mask_input_id, mi, mi->logits.size() * sizeof(float) + sizeof(MaskInput));
  json out{{"masks", parse_json(prediction_records_json(p), "prediction")},
           {"best", best},
           {"mask_input_id", mask_input_id},
           {"width", p.width},
           {"height", p.height}};
  send_json(res, out);
}

void SamService::generate(const httplib::Request& req, httplib::Response& res, const std::string& body) {
  const std::string id = req.matches[1];
  model_or_404();
  auto img = image_or_404(id);
  SamGeneratorParams params = parse_generator_params(body);
  auto model_ref = model_;
  const int64_t max_pixels = limits_.max_image_pixels;
  std::string job_id = jobs_.start("generate", id, [img, params, model_ref, max_pixels](JobControl& control) {
    Image image = decode_image(reinterpret_cast<const uint8_t*>(img->encoded.data()), img->encoded.size(), "image",
                               ImageLimits{max_pixels});
    SamMaskGenerator generator(model_ref, params);
    // The upload already paid for the whole image's encoding: only crops are encoded here.
    auto records = generator.generate(image, img->embedding, [&control](double fraction) {
      control.set_progress(fraction);
      return !control.cancelled();
    });
    return mask_records_to_json(records, MaskOutputMode::CocoRle);
  });
  send_json(res, job_json(job_or_404(job_id)), 202);
}

}  // namespace segkit::server
