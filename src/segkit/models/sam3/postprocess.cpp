#include "models/sam3/postprocess.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "kernels/cpu/resize_planes.h"
#include "models/sam3/blocks.h"  // shape_text
#include "segkit/error.h"

namespace segkit::sam3 {

namespace {

const char* const kContext = "SAM 3 post-processing";

void check_threshold(double t, const char* what) {
  if (!std::isfinite(t)) fail(kContext, std::string(what) + " must be a finite number");
}

// B, checking pred_logits, presence_logits, pred_boxes and the target sizes against each other.
int64_t check_detections(const RawOutputs& out, const std::vector<ImageSize>& sizes) {
  const at::Tensor& l = out.pred_logits;
  if (!l.defined() || l.dim() != 2) fail(kContext, "pred_logits must be batch × queries, not " + shape_text(l));
  const int64_t b = l.size(0), q = l.size(1);
  const at::Tensor& p = out.presence_logits;
  if (p.defined() && (p.dim() != 2 || p.size(0) != b || p.size(1) != 1))
    fail(kContext, "presence_logits must be " + std::to_string(b) + " × 1, not " + shape_text(p));
  const at::Tensor& x = out.pred_boxes;
  if (!x.defined() || x.dim() != 3 || x.size(0) != b || x.size(1) != q || x.size(2) != 4)
    fail(kContext,
         "pred_boxes must be " + std::to_string(b) + " × " + std::to_string(q) + " × 4, not " + shape_text(x));
  if (!sizes.empty() && static_cast<int64_t>(sizes.size()) != b)
    fail(kContext, std::to_string(sizes.size()) + " target sizes for " + std::to_string(b) + " images");
  for (const ImageSize& s : sizes)
    if (s.height <= 0 || s.width <= 0)
      fail(kContext,
           "a target size must be positive, not " + std::to_string(s.height) + " × " + std::to_string(s.width));
  return b;
}

// H × W × … probabilities resized as F.interpolate(bilinear, align_corners=False) does.
at::Tensor resize(const at::Tensor& probs, const ImageSize& s) {
  return at::upsample_bilinear2d(probs.unsqueeze(0), {s.height, s.width}, /*align_corners=*/false).squeeze(0);
}

}  // namespace

std::vector<Instances> post_process_object_detection(const RawOutputs& out, double threshold,
                                                     const std::vector<ImageSize>& target_sizes) {
  check_threshold(threshold, "the score threshold");
  const int64_t b = check_detections(out, target_sizes);
  // float32 throughout, as transformers: sigmoid · sigmoid, boxes · (W, H, W, H).
  at::Tensor scores = at::sigmoid(out.pred_logits.to(at::kFloat));
  if (out.presence_logits.defined()) scores = scores * at::sigmoid(out.presence_logits.to(at::kFloat));
  const at::Tensor boxes = out.pred_boxes.to(at::kFloat);
  std::vector<Instances> results(b);
  for (int64_t i = 0; i < b; ++i) {
    Instances& r = results[i];
    r.query = at::nonzero(scores[i] > threshold).view({-1});
    r.scores = scores[i].index_select(0, r.query);
    r.boxes = boxes[i].index_select(0, r.query);
    if (!target_sizes.empty()) {
      const auto w = static_cast<float>(target_sizes[i].width), h = static_cast<float>(target_sizes[i].height);
      r.boxes = r.boxes * at::tensor({w, h, w, h}, at::kFloat).to(r.boxes.device());
    }
  }
  return results;
}

std::vector<Instances> post_process_instance_segmentation(const RawOutputs& out, double threshold,
                                                          double mask_threshold,
                                                          const std::vector<ImageSize>& target_sizes) {
  check_threshold(mask_threshold, "the mask threshold");
  std::vector<Instances> results = post_process_object_detection(out, threshold, target_sizes);
  const int64_t b = static_cast<int64_t>(results.size()), q = out.pred_logits.size(1);
  const at::Tensor& m = out.pred_masks;
  if (!m.defined() || m.dim() != 4 || m.size(0) != b || m.size(1) != q)
    fail(kContext, "pred_masks must be " + std::to_string(b) + " × " + std::to_string(q) + " × height × width, not " +
                       shape_text(m));
  for (int64_t i = 0; i < b; ++i) {
    Instances& r = results[i];
    const at::Tensor probs = at::sigmoid(m[i].index_select(0, r.query).to(at::kFloat));  // N × h × w
    if (target_sizes.empty()) {
      r.masks = probs.gt(mask_threshold);
      continue;
    }
    const ImageSize& s = target_sizes[i];
    // transformers resizes the N masks as N channels of one map: for N ≥ 2 ATen's generic
    // kernel, whose decisions the fused resize and threshold repeat without the float stack.
    if (probs.size(0) >= 2 && kernels::resize_planes_available(probs.device())) {
      r.masks = kernels::resize_threshold(probs, s.height, s.width, static_cast<float>(mask_threshold));
      continue;
    }
    // Otherwise one mask at a time: the full-size float stack transformers builds (N × H × W)
    // would be gigabytes for large photographs.
    r.masks = at::empty({probs.size(0), s.height, s.width}, probs.options().dtype(at::kBool));
    for (int64_t k = 0; k < probs.size(0); ++k)
      r.masks[k].copy_(resize(probs.slice(0, k, k + 1), s)[0].gt(mask_threshold));
  }
  return results;
}

std::vector<at::Tensor> post_process_semantic_segmentation(const RawOutputs& out, double threshold,
                                                           const std::vector<ImageSize>& target_sizes) {
  check_threshold(threshold, "the semantic threshold");
  const at::Tensor& s = out.semantic_seg;
  if (!s.defined() || s.dim() != 4 || s.size(1) != 1)
    fail(kContext, "semantic_seg must be batch × 1 × height × width, not " + shape_text(s));
  const int64_t b = s.size(0);
  if (!target_sizes.empty() && static_cast<int64_t>(target_sizes.size()) != b)
    fail(kContext, std::to_string(target_sizes.size()) + " target sizes for " + std::to_string(b) + " images");
  const at::Tensor probs = at::sigmoid(s.to(at::kFloat));
  std::vector<at::Tensor> maps(b);
  for (int64_t i = 0; i < b; ++i) {
    if (!target_sizes.empty() && (target_sizes[i].height <= 0 || target_sizes[i].width <= 0))
      fail(kContext, "a target size must be positive, not " + std::to_string(target_sizes[i].height) + " × " +
                         std::to_string(target_sizes[i].width));
    maps[i] = (target_sizes.empty() ? probs[i] : resize(probs[i], target_sizes[i]))[0].gt(threshold);
  }
  return maps;
}

}  // namespace segkit::sam3
