#include "segkit/sam_output.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/rle.h"
#include "segkit/safetensors.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string prediction_records_json(const SamPrediction& p) {
  nlohmann::json records = nlohmann::json::array();
  const size_t plane = static_cast<size_t>(p.height) * p.width;
  for (int k = 0; k < p.num_masks; ++k) {
    Rle rle = rle_encode(p.masks.data() + k * plane, p.height, p.width);
    auto box = rle_bbox(rle);
    records.push_back({{"score", p.iou_predictions[k]},
                       {"bbox", {box[0], box[1], box[2], box[3]}},
                       {"area", rle_area(rle)},
                       {"segmentation", {{"size", {p.height, p.width}}, {"counts", rle_to_string(rle)}}}});
  }
  return records.dump(1) + "\n";
}

void save_prediction(const SamPrediction& p, const std::string& out) {
  const int64_t K = p.num_masks, H = p.height, W = p.width, L = p.low_res;
  if (ends_with(out, ".safetensors")) {
    std::vector<TensorRef> tensors = {
        {"masks", DType::U8, {K, H, W}, p.masks.data()},
        {"iou_predictions", DType::F32, {K}, p.iou_predictions.data()},
        {"low_res_logits", DType::F32, {K, L, L}, p.low_res_logits.data()},
    };
    if (!p.mask_logits.empty()) tensors.push_back({"mask_logits", DType::F32, {K, H, W}, p.mask_logits.data()});
    write_safetensors(out, tensors);
  } else if (ends_with(out, ".json")) {
    write_text_atomically(out, prediction_records_json(p));
  } else {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (!fs::is_directory(out)) fail(out, "cannot create output folder");
    const size_t plane = static_cast<size_t>(H) * W;
    std::vector<uint8_t> png(plane);
    for (int64_t k = 0; k < K; ++k) {
      for (size_t i = 0; i < plane; ++i) png[i] = p.masks[k * plane + i] ? 255 : 0;
      save_png((fs::path(out) / ("mask_" + std::to_string(k) + ".png")).string(), png.data(), static_cast<int>(W),
               static_cast<int>(H), 1);
    }
    write_text_atomically((fs::path(out) / "masks.json").string(), prediction_records_json(p));
  }
}

}  // namespace segkit

namespace segkit {

std::vector<float> load_mask_input(const std::string& path, int low_res) {
  auto f = SafetensorsFile::open(path);
  auto check = [&](const TensorView& v, const char* name) {
    const size_t n = v.shape.size();
    if (n < 2 || v.shape[n - 1] != low_res || v.shape[n - 2] != low_res)
      fail(path, std::string("tensor '") + name + "' is not " + std::to_string(low_res) + "x" + std::to_string(low_res) +
                     " low-res logits for this model");
  };
  const size_t plane = static_cast<size_t>(low_res) * low_res;
  if (f->contains("mask_input")) {
    const TensorView& v = f->get("mask_input");
    check(v, "mask_input");
    if (static_cast<size_t>(v.numel()) != plane) fail(path, "tensor 'mask_input' must hold a single 1xhxw mask");
    return f->to_float("mask_input");
  }
  if (f->contains("low_res_logits")) {
    const TensorView& v = f->get("low_res_logits");
    check(v, "low_res_logits");
    std::vector<float> all = f->to_float("low_res_logits");
    const size_t k = all.size() / plane;
    size_t best = 0;
    if (f->contains("iou_predictions")) {
      std::vector<float> iou = f->to_float("iou_predictions");
      if (iou.size() != k) fail(path, "iou_predictions and low_res_logits disagree on the number of masks");
      for (size_t i = 1; i < k; ++i)
        if (iou[i] > iou[best]) best = i;
    }
    return std::vector<float>(all.begin() + best * plane, all.begin() + (best + 1) * plane);
  }
  fail(path, "has neither 'mask_input' nor 'low_res_logits'");
}

}  // namespace segkit
