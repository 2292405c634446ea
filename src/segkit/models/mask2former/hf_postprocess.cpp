#include "models/mask2former/hf_postprocess.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/max.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <mutex>
#include <cstdint>
#include <string>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/resize_argmax.h"
#include "kernels/cpu/resize_planes.h"
#include "segkit/error.h"

namespace segkit {

SegmentationTask parse_segmentation_task(const std::string& name) {
  if (name == "semantic") return SegmentationTask::Semantic;
  if (name == "instance") return SegmentationTask::Instance;
  if (name == "panoptic") return SegmentationTask::Panoptic;
  fail("task '" + name + "'", "not one of semantic, instance, panoptic");
}

const char* segmentation_task_name(SegmentationTask task) {
  switch (task) {
    case SegmentationTask::Semantic: return "semantic";
    case SegmentationTask::Instance: return "instance";
    case SegmentationTask::Panoptic: return "panoptic";
  }
  return "unknown";
}

namespace mask2former {
namespace {

// transformers resizes every mask to this size first, whatever the model's input size was.
constexpr int64_t kProcessedSize = 384;
constexpr const char* kContext = "mask2former post-processing";

void check_inputs(const at::Tensor& class_logits, const at::Tensor& mask_logits, int target_height,
                  int target_width) {
  if (class_logits.dim() != 2 || class_logits.size(1) < 2 || class_logits.scalar_type() != at::kFloat)
    fail(kContext, "class logits should be float32 queries × (labels + 1)");
  if (mask_logits.dim() != 3 || mask_logits.size(0) != class_logits.size(0) || mask_logits.scalar_type() != at::kFloat)
    fail(kContext, "mask logits should be float32 queries × height × width, as many queries as the class logits");
  if (target_height < 0 || target_width < 0 || (target_height == 0) != (target_width == 0))
    fail(kContext, "target size " + std::to_string(target_height) + "×" + std::to_string(target_width) +
                       " should be both positive or both 0 (no target size)");
}

bool has_target(int target_height, int target_width) { return target_height > 0 && target_width > 0; }

// Q × 384 × 384 mask logits.
at::Tensor resize_to_processed(const at::Tensor& mask_logits) {
  return at::upsample_bilinear2d(mask_logits.unsqueeze(0), {kProcessedSize, kProcessedSize}, false)[0];
}

// Whether the kernels below run here: the resize of every query's logits to 384×384 with ATen's
// generic kernel's arithmetic, which transformers' resize takes for Q ≥ 2 channels of more than
// one pixel (a Q×1×1 map is channels-last too, and resized with other arithmetic).
bool banded_probabilities(const at::Tensor& mask_logits) {
  return mask_logits.size(0) >= 2 && mask_logits.size(1) * mask_logits.size(2) > 1 &&
         kernels::resize_planes_available(mask_logits.device());
}

// Rows [first, first + rows) of the mask probabilities at 384×384 (transformers' sigmoid of the
// resized logits): C × (rows · 384) float32.
at::Tensor probability_rows(const kernels::PlaneResize& resize, int64_t first, int64_t rows) {
  at::Tensor band = at::empty({resize.channels(), rows * kProcessedSize}, at::kFloat);
  resize.rows(first, first + rows, band.data_ptr<float>());
  return band.sigmoid_();
}

// Upper source rows a band of the fused resize and argmax covers: its maps hold one more row,
// which its last output rows also read (an eighth more work than one pass, and no K×384×384 map).
constexpr int64_t kArgmaxBandRows = 8;

// The target-size labels of transformers' resize of K channels at 384×384 then argmax over them
// (each scaled by scale[k] where given; counts[k]: pixels at or above count_threshold), the
// 384×384 values made band by band by make(first_row, rows, out), out rows × 384 × K float32
// (channels last), each argmaxed while in cache. Bands in parallel; bands that no output row
// reads are not made.
template <typename Make>
at::Tensor banded_resize_argmax(int64_t channels, int target_height, int target_width, const Make& make,
                                const float* scale = nullptr, float count_threshold = 0.0f,
                                std::vector<int64_t>* counts = nullptr) {
  const kernels::BandedResizeArgmax argmax(kProcessedSize, kProcessedSize, channels, target_height, target_width,
                                           scale, count_threshold);
  const at::Tensor labels = at::empty({target_height, target_width}, at::kInt);
  if (counts) counts->assign(static_cast<size_t>(channels), 0);
  std::mutex merge;
  const int64_t bands = (kProcessedSize + kArgmaxBandRows - 1) / kArgmaxBandRows;
  torch_parallel_chunks(0, bands, 1, [&](int64_t begin, int64_t end) {
    const at::Tensor values = at::empty({(kArgmaxBandRows + 1) * kProcessedSize * channels}, at::kFloat);
    std::vector<int64_t> local(counts ? static_cast<size_t>(channels) : 0, 0);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t upper = b * kArgmaxBandRows;
      const auto [first_out, end_out] = argmax.output_rows(upper, std::min(upper + kArgmaxBandRows, kProcessedSize));
      if (first_out == end_out) continue;
      const auto [first_source, end_source] = argmax.source_rows(first_out, end_out);
      make(first_source, end_source - first_source, values.data_ptr<float>());
      argmax.rows(values.data_ptr<float>(), first_source, end_source - first_source, first_out, end_out,
                  labels.data_ptr<int32_t>(), counts ? local.data() : nullptr);
    }
    if (!counts) return;
    const std::lock_guard<std::mutex> lock(merge);
    for (size_t k = 0; k < local.size(); ++k) (*counts)[k] += local[k];
  });
  return labels;
}

// The logits of `queries` (indices into the first dimension, repeats allowed) at 384×384. Each
// channel is resized on its own, so resizing the picked ones gives the values of transformers'
// resize of every query then picking; ATen's resize (without the kernel) is given every query,
// as transformers does, since it resizes a single channel with other arithmetic.
at::Tensor processed_logits(const at::Tensor& mask_logits, const at::Tensor& queries) {
  if (!banded_probabilities(mask_logits)) return resize_to_processed(mask_logits).index_select(0, queries);
  const kernels::PlaneResize resize(mask_logits.index_select(0, queries), kProcessedSize, kProcessedSize);
  const at::Tensor out = at::empty({resize.channels(), kProcessedSize, kProcessedSize}, at::kFloat);
  float* values = out.data_ptr<float>();
  torch_parallel_chunks(0, kProcessedSize, 4, [&](int64_t begin, int64_t end) {  // 4 rows a task
    resize.rows(begin, end, values + begin * kProcessedSize, kProcessedSize * kProcessedSize);
  });
  return out;
}

// The double a caller most likely wrote to get this float (its shortest round-trip decimal):
// transformers compares Python floats, where e.g. an area ratio of exactly 4/5 passes `> 0.8`
// (float32(0.8) > 0.8) but would fail against 0.8f.
double as_written(float value) {
  char text[32];
  const auto written = std::to_chars(text, text + sizeof text, value);
  double parsed = value;
  std::from_chars(text, written.ptr, parsed);
  return parsed;
}

// Python's round(x, 6), which rounds the exact binary value correctly, as fixed-point printing does.
float round6(double value) {
  char text[64];
  const auto written = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed, 6);
  double parsed = value;
  std::from_chars(text, written.ptr, parsed);
  return static_cast<float>(parsed);
}

// Channels resized a few at a time: a full K × H × W float stack at a photo's size would take
// gigabytes (150 ADE classes at 1200×1800: 1.3 GB). Resizing is per channel, so chunks give the
// same values.
constexpr int64_t kChannelsPerChunk = 16;

// `per_channel` C × h × w, bilinearly resized to the target (or as it is) chunk by chunk, each
// chunk handed to `visit(first_channel, chunk)` (n × H × W). Returns the first channel of the
// largest value per pixel, as argmax over the whole stack does (ties: the earliest).
template <typename Visit>
at::Tensor chunked_argmax(const at::Tensor& per_channel, int target_height, int target_width, Visit visit) {
  const int64_t channels = per_channel.size(0);
  const int64_t height = target_height > 0 ? target_height : per_channel.size(1);
  const int64_t width = target_height > 0 ? target_width : per_channel.size(2);
  const int64_t plane = height * width;
  std::vector<float> best(static_cast<size_t>(plane), -std::numeric_limits<float>::infinity());
  at::Tensor best_index = at::zeros({height, width}, at::kLong);
  int64_t* index = best_index.data_ptr<int64_t>();
  for (int64_t c0 = 0; c0 < channels; c0 += kChannelsPerChunk) {
    const int64_t n = std::min(kChannelsPerChunk, channels - c0);
    at::Tensor chunk = per_channel.narrow(0, c0, n);
    if (target_height > 0) chunk = at::upsample_bilinear2d(chunk.unsqueeze(0), {target_height, target_width}, false)[0];
    visit(c0, chunk);  // may replace the chunk (weighting)
    chunk = chunk.contiguous();
    const float* values = chunk.data_ptr<float>();
    // Strictly greater: the earliest channel keeps a tie, as torch's argmax. A NaN never wins
    // here (torch would pick it); the maps come from sigmoids and softmaxes, which give none.
    for (int64_t c = 0; c < n; ++c) {
      const float* v = values + c * plane;
      for (int64_t i = 0; i < plane; ++i)
        if (v[i] > best[static_cast<size_t>(i)] || (c0 + c == 0)) {
          best[static_cast<size_t>(i)] = v[i];
          index[i] = c0 + c;
        }
    }
  }
  return best_index;
}

// The source index of each output index of at::upsample_nearest2d on one channel (its
// channels-last kernel, nearest_idx): the same index at equal sizes, half when doubling, else
// floor(o · (in/out)) in float32, clamped to the last.
std::vector<int64_t> nearest_sources(int64_t input_size, int64_t output_size) {
  std::vector<int64_t> sources(static_cast<size_t>(output_size));
  const float scale = static_cast<float>(input_size) / static_cast<float>(output_size);
  for (int64_t o = 0; o < output_size; ++o)
    sources[static_cast<size_t>(o)] =
        output_size == input_size       ? o
        : output_size == 2 * input_size ? o >> 1
                                        : std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), input_size - 1);
  return sources;
}

// Whether kernels/cpu/resize_argmax resizes these channels to the target: it reproduces ATen's
// generic kernel, which ATen leaves for its channels-last one with a single channel.
bool fused_resize(int64_t channels, int target_height, int target_width, const at::Device& device) {
  return has_target(target_height, target_width) && channels >= 2 && kernels::resize_argmax_available(device);
}

Segmentation empty_segmentation(SegmentationTask task, int64_t height, int64_t width, int32_t fill) {
  Segmentation s;
  s.task = task;
  s.height = static_cast<int>(height);
  s.width = static_cast<int>(width);
  s.ids.assign(static_cast<size_t>(height * width), fill);
  return s;
}

}  // namespace

Segmentation semantic_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits, int target_height,
                                   int target_width) {
  check_inputs(class_logits, mask_logits, target_height, target_width);
  const int64_t num_labels = class_logits.size(1) - 1;
  // The "no object" column takes part in the softmax and is dropped after it.
  const at::Tensor class_probs = at::softmax(class_logits, -1).narrow(1, 0, num_labels);
  at::Tensor labels;
  if (fused_resize(num_labels, target_height, target_width, mask_logits.device()) &&
      banded_probabilities(mask_logits)) {
    // transformers' einsum("bqc,bqhw->bchw") as (384·384 × Q)·(Q × K), channels last as the
    // fused resize and argmax reads them, each band's rows multiplied while its probabilities
    // are in cache (the same products on oneDNN: equal to the bit).
    const kernels::PlaneResize resize(mask_logits, kProcessedSize, kProcessedSize);
    labels = banded_resize_argmax(num_labels, target_height, target_width, [&](int64_t first, int64_t rows, float* out) {
      const at::Tensor probs = probability_rows(resize, first, rows);
      kernels::matmul_into(at::from_blob(out, {probs.size(1), num_labels}), probs.t(), class_probs);
    });
  } else {
    // K × Q times Q × (384·384), resized by ATen a few channels at a time.
    const at::Tensor mask_probs = resize_to_processed(mask_logits).sigmoid_();
    const at::Tensor flat_probs = mask_probs.reshape({mask_probs.size(0), -1});
    const at::Tensor per_class = kernels::matmul(class_probs.t(), flat_probs).view({num_labels, kProcessedSize, kProcessedSize});
    labels = chunked_argmax(per_class, target_height, target_width, [](int64_t, at::Tensor&) {}).to(at::kInt).contiguous();
  }

  Segmentation s = empty_segmentation(SegmentationTask::Semantic, labels.size(0), labels.size(1), 0);
  const int32_t* p = labels.data_ptr<int32_t>();
  std::copy(p, p + labels.numel(), s.ids.begin());
  std::vector<bool> present(static_cast<size_t>(num_labels), false);
  for (int32_t label : s.ids) present[static_cast<size_t>(label)] = true;
  for (int64_t label = 0; label < num_labels; ++label) {
    if (!present[static_cast<size_t>(label)]) continue;
    Segment segment;
    segment.id = segment.label_id = static_cast<int>(label);
    s.segments.push_back(segment);
  }
  return s;
}

Segmentation instance_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits,
                                   const SegmentationOptions& options, int target_height, int target_width) {
  check_inputs(class_logits, mask_logits, target_height, target_width);
  const int64_t num_queries = class_logits.size(0);
  const int64_t num_labels = class_logits.size(1) - 1;

  // Scores of every (query, label) pair, index q·K + c. transformers takes the best Q of them with
  // topk(sorted=False), so its candidates come in the order torch's CPU topk leaves them
  // (ATen/native/TopKImpl.h): a std::nth_element over the (score, index) pairs when k·64 > n
  // (the tiny fixtures: unsorted), else a std::partial_sort (real checkpoints, 100 of 100·133:
  // descending). ATen 1.13 runs that same code on libstdc++ as torch's builds do, and reproduces
  // the stored torch 2.11 order, so its order is used as it is.
  const at::Tensor class_scores = at::softmax(class_logits, -1).narrow(1, 0, num_labels).reshape({-1});
  const auto [top_scores, top_indices] = at::topk(class_scores, num_queries, -1, /*largest=*/true, /*sorted=*/false);
  const at::Tensor labels = top_indices.remainder(num_labels);
  const at::Tensor queries = top_indices.div(num_labels, "floor");

  // A candidate's score is its class score times its mask score, which is at most 1 (a float sum
  // of values ≤ 1 over n pixels is ≤ n), so none below the threshold on its class score alone
  // can be kept: without any, the masks are not even resized.
  const double threshold = as_written(options.threshold);
  const at::Tensor top_scores_c = top_scores.contiguous();
  const float* top = top_scores_c.data_ptr<float>();
  if (std::none_of(top, top + num_queries, [&](float t) { return static_cast<double>(t) >= threshold; })) {
    const bool resize = has_target(target_height, target_width);
    return empty_segmentation(SegmentationTask::Instance, resize ? target_height : kProcessedSize,
                              resize ? target_width : kProcessedSize, -1);
  }

  // Only those candidates can be kept, so only their masks are resized and scored: row e of
  // the masks below is candidate scored[e]. ATen sums a single row in another order than each of
  // many (it splits the row between threads), so a second candidate keeps a lone one company.
  std::vector<int64_t> scored;
  for (int64_t j = 0; j < num_queries; ++j)
    if (static_cast<double>(top[j]) >= threshold) scored.push_back(j);
  if (scored.size() == 1 && num_queries > 1)  // in candidate order: the company is never kept
    scored.insert(scored[0] == 0 ? scored.end() : scored.begin(), scored[0] == 0 ? 1 : 0);
  const at::Tensor scored_index = at::empty({static_cast<int64_t>(scored.size())}, at::kLong);
  std::copy(scored.begin(), scored.end(), scored_index.data_ptr<int64_t>());

  at::Tensor picked = processed_logits(mask_logits, queries.index_select(0, scored_index));
  const at::Tensor positive = picked.gt(0).contiguous();
  // Mean probability inside each binary mask, as float32 sums like torch's: the probabilities
  // taken and masked in place (times 1 or 0, as by transformers' float mask: NaN stays NaN), with
  // no float copy of the masks, and each mask's pixel count (its float32 sum in transformers,
  // exact below 2^24 pixels; ATen's sum of bools took longer than all of this).
  picked.sigmoid_();
  const at::Tensor pixels = at::empty({picked.size(0)}, at::kFloat);
  const int64_t area = picked.size(1) * picked.size(2);
  float* probs = picked.data_ptr<float>();
  float* counts = pixels.data_ptr<float>();
  const bool* inside = positive.data_ptr<bool>();
  torch_parallel_for(0, picked.size(0), 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      int64_t count = 0;
      for (int64_t i = j * area; i < (j + 1) * area; ++i) {
        probs[i] *= inside[i] ? 1.0f : 0.0f;
        count += inside[i];
      }
      counts[j] = static_cast<float>(count);
    }
  });
  const at::Tensor mask_scores = picked.flatten(1).sum(1) / (pixels + 1e-6);
  const at::Tensor scores = (top_scores.index_select(0, scored_index) * mask_scores).contiguous();

  const bool resize = has_target(target_height, target_width);
  const int64_t source_height = positive.size(1), source_width = positive.size(2);
  const int64_t height = resize ? target_height : source_height, width = resize ? target_width : source_width;
  const int64_t plane = height * width;
  // Each output pixel is one source pixel ('nearest'), so masks are picked at 384×384 and each
  // kept one is written once at the target size: no float mask per instance at a photo's size.
  const std::vector<int64_t> source_row = nearest_sources(source_height, height);
  const std::vector<int64_t> source_col = nearest_sources(source_width, width);
  std::vector<uint8_t> row_sampled(static_cast<size_t>(source_height), 0), col_sampled(static_cast<size_t>(source_width), 0);
  for (int64_t r : source_row) row_sampled[static_cast<size_t>(r)] = 1;
  for (int64_t c : source_col) col_sampled[static_cast<size_t>(c)] = 1;
  const int64_t source_plane = source_height * source_width;
  const bool* positive_of = positive.data_ptr<bool>();

  Segmentation s = empty_segmentation(SegmentationTask::Instance, height, width, -1);
  const float* score = scores.data_ptr<float>();
  const at::Tensor labels_long = labels.to(at::kLong).contiguous();
  const int64_t* label = labels_long.data_ptr<int64_t>();
  std::vector<int64_t> kept;                                         // rows e of the masks, in id order
  std::vector<int32_t> source_id(static_cast<size_t>(source_plane), -1);  // the last kept one at each source pixel
  for (size_t e = 0; e < scored.size(); ++e) {
    const int64_t j = scored[e];
    if (!(static_cast<double>(score[e]) >= threshold)) continue;
    const bool* mask_j = positive_of + static_cast<int64_t>(e) * source_plane;
    // Empty at the target size (none of its pixels sampled): skipped, no id.
    bool any = false;
    for (int64_t r = 0; r < source_height && !any; ++r)
      if (row_sampled[static_cast<size_t>(r)])
        for (int64_t c = 0; c < source_width && !any; ++c) any = col_sampled[static_cast<size_t>(c)] && mask_j[r * source_width + c];
    if (!any) continue;
    // Later instances overwrite earlier ones.
    const int32_t id = static_cast<int32_t>(kept.size());
    for (int64_t i = 0; i < source_plane; ++i)
      if (mask_j[i]) source_id[static_cast<size_t>(i)] = id;
    kept.push_back(static_cast<int64_t>(e));
    Segment segment;
    segment.id = id;
    segment.label_id = static_cast<int>(label[j]);
    segment.score = round6(score[e]);
    s.segments.push_back(segment);
  }
  // Each instance's whole mask too: COCO results keep what later instances cover.
  s.instance_masks.resize(kept.size() * static_cast<size_t>(plane));
  const int64_t layers = static_cast<int64_t>(kept.size()) + 1;  // the instances' masks, then the ids
  torch_parallel_for(0, layers * height, 16, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t k = t / height, y = t % height, from = source_row[static_cast<size_t>(y)] * source_width;
      // Enlarging repeats each source row over several output rows: the row above, which this
      // task has just written, is copied.
      const bool repeat = t > begin && y > 0 && source_row[static_cast<size_t>(y - 1)] == source_row[static_cast<size_t>(y)];
      if (k + 1 == layers) {
        int32_t* ids = s.ids.data() + y * width;
        if (repeat) std::copy(ids - width, ids, ids);
        else
          for (int64_t x = 0; x < width; ++x) ids[x] = source_id[static_cast<size_t>(from + source_col[static_cast<size_t>(x)])];
        continue;
      }
      const bool* row = positive_of + kept[static_cast<size_t>(k)] * source_plane + from;
      uint8_t* mask = s.instance_masks.data() + k * plane + y * width;
      if (repeat) std::copy(mask - width, mask, mask);
      else
        for (int64_t x = 0; x < width; ++x) mask[x] = row[source_col[static_cast<size_t>(x)]];
    }
  });
  return s;
}

Segmentation panoptic_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits,
                                   const SegmentationOptions& options, int target_height, int target_width) {
  check_inputs(class_logits, mask_logits, target_height, target_width);
  const int64_t num_labels = class_logits.size(1) - 1;
  const bool resize = has_target(target_height, target_width);

  // Best class over all K+1 (the "no object" column included); the threshold is strict and, as
  // torch compares a float32 tensor with a Python scalar, compared in float32.
  const auto [pred_scores, pred_labels] = at::max(at::softmax(class_logits, -1), -1);
  const at::Tensor kept = (pred_labels.ne(num_labels) & pred_scores.gt(options.threshold)).nonzero().reshape({-1});
  if (kept.numel() == 0) {
    // transformers returns a float map of -1 here; void is 0 otherwise.
    return empty_segmentation(SegmentationTask::Panoptic, resize ? target_height : kProcessedSize,
                              resize ? target_width : kProcessedSize, options.transformers_ids ? -1 : 0);
  }

  const at::Tensor kept_scores = pred_scores.index_select(0, kept).contiguous();
  const at::Tensor kept_labels = pred_labels.index_select(0, kept).to(at::kLong).contiguous();
  at::Tensor owner;
  std::vector<int64_t> own_areas;
  // Probabilities are taken at 384×384, before any resize to the target, and weighted by the
  // class score before both uses: the owner of each pixel, and each query's own area.
  if (fused_resize(kept.numel(), target_height, target_width, mask_logits.device()) &&
      banded_probabilities(mask_logits)) {
    // The kept queries' probabilities only, channels last as the fused resize and argmax reads them.
    const kernels::PlaneResize resize(mask_logits.index_select(0, kept), kProcessedSize, kProcessedSize);
    owner = banded_resize_argmax(
        kept.numel(), target_height, target_width,
        [&](int64_t first, int64_t rows, float* out) {
          const at::Tensor probs = probability_rows(resize, first, rows);
          at::from_blob(out, {probs.size(1), probs.size(0)}).copy_(probs.t());
        },
        kept_scores.data_ptr<float>(), options.mask_threshold, &own_areas);
  } else {
    const at::Tensor probs = processed_logits(mask_logits, kept).sigmoid_();
    at::Tensor areas = at::empty({kept.numel()}, at::kLong);
    owner = chunked_argmax(probs, target_height, target_width, [&](int64_t first, at::Tensor& chunk) {
              chunk = chunk * kept_scores.narrow(0, first, chunk.size(0)).view({-1, 1, 1});
              areas.narrow(0, first, chunk.size(0)).copy_(chunk.ge(options.mask_threshold).sum({1, 2}));
            }).to(at::kInt).contiguous();
    own_areas.assign(areas.data_ptr<int64_t>(), areas.data_ptr<int64_t>() + areas.numel());
  }

  const int64_t num_kept = kept.numel();
  const int64_t height = owner.size(0), width = owner.size(1), plane = height * width;
  const int32_t* owner_of = owner.data_ptr<int32_t>();
  std::vector<int64_t> owned_areas(static_cast<size_t>(num_kept), 0);
  for (int64_t i = 0; i < plane; ++i) ++owned_areas[static_cast<size_t>(owner_of[i])];

  Segmentation s = empty_segmentation(SegmentationTask::Panoptic, height, width, 0);
  const double overlap_threshold = as_written(options.overlap_mask_area_threshold);
  const float* score = kept_scores.data_ptr<float>();
  const int64_t* label = kept_labels.data_ptr<int64_t>();
  const auto& fuse = options.label_ids_to_fuse;
  std::vector<int32_t> id_of_owner(static_cast<size_t>(num_kept), 0);
  std::vector<std::pair<int, int>> fused_ids;  // label → its id, for labels to fuse
  int current_id = 0, highest_id = 0;
  for (int64_t k = 0; k < num_kept; ++k) {
    const int64_t owned = owned_areas[static_cast<size_t>(k)];
    const int64_t own_area = own_areas[static_cast<size_t>(k)];
    if (owned == 0 || own_area == 0) continue;
    // transformers divides the two integer counts in float32 and compares the result as a Python float.
    const float ratio = static_cast<float>(owned) / static_cast<float>(own_area);
    if (!(static_cast<double>(ratio) > overlap_threshold)) continue;
    const int label_k = static_cast<int>(label[k]);
    const bool should_fuse = std::find(fuse.begin(), fuse.end(), label_k) != fuse.end();
    const auto earlier = std::find_if(fused_ids.begin(), fused_ids.end(), [&](const auto& e) { return e.first == label_k; });
    // A fused label reuses its id. In transformers the next new id counts on from the reused one,
    // so ids may collide; the COCO numbering counts on from the highest id given.
    const int new_id = options.transformers_ids ? current_id + 1 : highest_id + 1;
    current_id = earlier != fused_ids.end() ? earlier->second : new_id;
    highest_id = std::max(highest_id, current_id);
    id_of_owner[static_cast<size_t>(k)] = current_id;
    Segment segment;
    segment.id = current_id;
    segment.label_id = label_k;
    segment.score = round6(score[k]);
    segment.was_fused = should_fuse;
    // transformers lists every fused query; one entry per id otherwise (the first query's).
    if (options.transformers_ids || earlier == fused_ids.end()) s.segments.push_back(segment);
    if (should_fuse && earlier == fused_ids.end()) fused_ids.emplace_back(label_k, current_id);
  }
  // Each pixel has one owner, so the owners' regions are disjoint and the order of writing them is irrelevant.
  for (int64_t i = 0; i < plane; ++i) s.ids[static_cast<size_t>(i)] = id_of_owner[static_cast<size_t>(owner_of[i])];
  return s;
}

}  // namespace mask2former
}  // namespace segkit
