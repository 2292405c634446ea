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

}  // namespace

std::string sam3_records_json(const std::vector<Sam3Result>& results) {
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (size_t p = 0; p < results.size(); ++p) {
    const Sam3Result& r = results[p];
    for (int i = 0; i < r.size(); ++i) {
      const Rle rle = rle_encode(r.mask(i), r.height, r.width);
      const auto& b = r.boxes[i];
      nlohmann::ordered_json rec;
      rec["label"] = r.text;
      rec["prompt"] = p;
      rec["score"] = r.scores[i];
      rec["bbox"] = {b[0], b[1], b[2] - b[0], b[3] - b[1]};
      rec["area"] = rle_area(rle);
      rec["segmentation"] = {{"size", {r.height, r.width}}, {"counts", rle_to_string(rle)}};
      records.push_back(std::move(rec));
    }
  }
  return records.dump(1) + "\n";
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
