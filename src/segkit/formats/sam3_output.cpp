#include "segkit/sam3_output.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/rle.h"
#include "segkit/safetensors.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

size_t instance_count(const std::vector<Sam3Result>& results) {
  size_t n = 0;
  for (const Sam3Result& r : results) n += r.scores.size();
  return n;
}

// {"score", "bbox" [x, y, w, h] (the model's box), "area", "segmentation"} of instance i,
// after the fields in `record`.
nlohmann::ordered_json with_instance(nlohmann::ordered_json record, const Sam3Result& r, int i) {
  const Rle rle = rle_encode(r.mask(i), r.height, r.width);
  const auto& b = r.boxes[i];
  record["score"] = r.scores[i];
  record["bbox"] = {b[0], b[1], b[2] - b[0], b[3] - b[1]};
  record["area"] = rle_area(rle);
  record["segmentation"] = {{"size", {r.height, r.width}}, {"counts", rle_to_string(rle)}};
  return record;
}

}  // namespace

std::string sam3_records_json(const std::vector<Sam3Result>& results) {
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (size_t p = 0; p < results.size(); ++p) {
    const Sam3Result& r = results[p];
    for (int i = 0; i < r.size(); ++i)
      records.push_back(with_instance({{"label", r.text}, {"prompt", p}}, r, i));
  }
  return records.dump(1) + "\n";
}

std::string sam3_coco_results_json(const std::vector<Sam3Result>& results, int64_t image_id) {
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (size_t p = 0; p < results.size(); ++p) {
    const Sam3Result& r = results[p];
    for (int i = 0; i < r.size(); ++i)
      records.push_back(with_instance({{"image_id", image_id}, {"category_id", p + 1}}, r, i));
  }
  return records.dump();
}

std::string sam3_categories_json(const std::vector<std::string>& phrases) {
  nlohmann::ordered_json categories = nlohmann::ordered_json::array();
  for (size_t i = 0; i < phrases.size(); ++i) categories.push_back({{"id", i + 1}, {"name", phrases[i]}});
  return categories.dump(1) + "\n";
}

void save_sam3_results(const std::vector<Sam3Result>& results, const std::string& out) {
  const int64_t N = static_cast<int64_t>(instance_count(results));
  const int64_t H = results.empty() ? 0 : results[0].height, W = results.empty() ? 0 : results[0].width;
  for (const Sam3Result& r : results)
    if (r.height != H || r.width != W) fail(out, "results of different image sizes in one file");
  const size_t plane = static_cast<size_t>(H) * W;
  if (ends_with(out, ".safetensors")) {
    std::vector<uint8_t> masks;
    std::vector<float> scores, boxes;
    std::vector<int64_t> prompt;
    masks.reserve(N * plane);
    nlohmann::json phrases = nlohmann::json::array();
    for (size_t p = 0; p < results.size(); ++p) {
      const Sam3Result& r = results[p];
      phrases.push_back(r.text);
      masks.insert(masks.end(), r.masks.begin(), r.masks.end());
      scores.insert(scores.end(), r.scores.begin(), r.scores.end());
      for (const auto& b : r.boxes) boxes.insert(boxes.end(), b.begin(), b.end());
      prompt.insert(prompt.end(), r.scores.size(), static_cast<int64_t>(p));
    }
    write_safetensors(out,
                      {{"masks", DType::U8, {N, H, W}, masks.data()},
                       {"scores", DType::F32, {N}, scores.data()},
                       {"boxes", DType::F32, {N, 4}, boxes.data()},
                       {"prompt", DType::I64, {N}, prompt.data()}},
                      {{"format", "segkit-sam3-results"}, {"phrases", phrases.dump()}});
  } else if (ends_with(out, ".json")) {
    write_text_atomically(out, sam3_records_json(results));
  } else {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (!fs::is_directory(out)) fail(out, "cannot create output folder");
    std::vector<uint8_t> png(plane);
    int64_t k = 0;
    for (const Sam3Result& r : results) {
      for (int i = 0; i < r.size(); ++i, ++k) {
        const uint8_t* m = r.mask(i);
        for (size_t j = 0; j < plane; ++j) png[j] = m[j] ? 255 : 0;
        save_png((fs::path(out) / ("mask_" + std::to_string(k) + ".png")).string(), png.data(), static_cast<int>(W),
                 static_cast<int>(H), 1);
      }
    }
    write_text_atomically((fs::path(out) / "masks.json").string(), sam3_records_json(results));
  }
}

void save_sam3_raw(const Sam3RawOutput& raw, const std::string& path) {
  std::vector<TensorRef> tensors;
  auto add = [&](const char* name, const FloatArray& a) {
    if (!a.shape.empty()) tensors.push_back({name, DType::F32, a.shape, a.data.data()});
  };
  add("pred_logits", raw.pred_logits);
  add("pred_boxes", raw.pred_boxes);
  add("presence_logits", raw.presence_logits);
  add("pred_masks", raw.pred_masks);
  add("semantic_seg", raw.semantic_seg);
  write_safetensors(path, tensors,
                    {{"format", "segkit-sam3-raw"},
                     {"phrases", nlohmann::json(raw.phrases).dump()},
                     {"original_size", std::to_string(raw.original_height) + "," + std::to_string(raw.original_width)}});
}

}  // namespace segkit
