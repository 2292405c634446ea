#include "postprocess/box_nms.h"

#include <ATen/Dispatch.h>
#include <ATen/ops/_unique.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/eq.h>
#include <ATen/ops/nonzero.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <vector>

#include "segkit/error.h"

namespace segkit::amg {

template <typename T>
static at::Tensor nms_impl(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  const int64_t n = boxes.size(0);
  const at::Tensor b = boxes.contiguous();
  const T* box = b.data_ptr<T>();
  std::vector<T> area(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) area[size_t(i)] = (box[4 * i + 2] - box[4 * i]) * (box[4 * i + 3] - box[4 * i + 1]);

  // Tied scores keep their input order: what upstream's goldens show (an unstable sort may not).
  const at::Tensor order_t = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/true)).contiguous();
  const int64_t* order = order_t.data_ptr<int64_t>();

  std::vector<uint8_t> suppressed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = order[oi];
    if (suppressed[size_t(i)]) continue;
    keep.push_back(i);
    const T* bi = box + 4 * i;
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = order[oj];
      if (suppressed[size_t(j)]) continue;
      const T* bj = box + 4 * j;
      const T w = std::max(T(0), std::min(bi[2], bj[2]) - std::max(bi[0], bj[0]));
      const T h = std::max(T(0), std::min(bi[3], bj[3]) - std::max(bi[1], bj[1]));
      const T inter = w * h;
      const T iou = inter / (area[size_t(i)] + area[size_t(j)] - inter);
      if (iou > iou_threshold) suppressed[size_t(j)] = 1;
    }
  }
  at::Tensor out = at::empty({int64_t(keep.size())}, at::kLong);
  std::copy(keep.begin(), keep.end(), out.data_ptr<int64_t>());
  return out;
}

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  if (boxes.dim() != 2 || boxes.size(1) != 4) fail("nms", "boxes must be N×4");
  if (scores.dim() != 1 || scores.size(0) != boxes.size(0)) fail("nms", "scores must be one per box");
  if (boxes.scalar_type() != scores.scalar_type()) fail("nms", "boxes and scores must have the same dtype");
  if (boxes.size(0) == 0) return at::empty({0}, at::kLong);
  at::Tensor keep;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "segkit_nms", [&] { keep = nms_impl<scalar_t>(boxes, scores, iou_threshold); });
  return keep;
}

static at::Tensor batched_nms_offsets(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                                      double iou_threshold) {
  if (boxes.numel() == 0) return at::empty({0}, at::kLong);
  const at::Tensor max_coordinate = boxes.max();
  const at::Tensor offsets = idxs.to(boxes.scalar_type()).mul(max_coordinate.add(1));
  return nms(boxes.add(offsets.unsqueeze(1)), scores, iou_threshold);
}

static at::Tensor batched_nms_per_category(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                                           double iou_threshold) {
  at::Tensor keep_mask = at::zeros({scores.size(0)}, at::kBool);
  const at::Tensor categories = std::get<0>(at::_unique(idxs, /*sorted=*/true));
  for (int64_t c = 0; c < categories.size(0); ++c) {
    const at::Tensor members = at::nonzero(at::eq(idxs, categories[c])).select(1, 0);
    const at::Tensor kept = nms(boxes.index_select(0, members), scores.index_select(0, members), iou_threshold);
    keep_mask.index_fill_(0, members.index_select(0, kept), true);
  }
  const at::Tensor keep = at::nonzero(keep_mask).select(1, 0);
  return keep.index_select(0, std::get<1>(scores.index_select(0, keep).sort(/*stable=*/true, 0, /*descending=*/true)));
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  if (boxes.numel() > 4000) return batched_nms_per_category(boxes, scores, idxs, iou_threshold);
  return batched_nms_offsets(boxes, scores, idxs, iou_threshold);
}

}  // namespace segkit::amg
