#pragma once
// transformers' Mask2FormerImageProcessor post-processing (semantic, instance, panoptic) for one
// image, reproduced with its quirks so that the maps and segments match transformers':
//   - the mask logits are first resized bilinearly to 384×384 whatever the input size was;
//   - semantic: softmax over K+1 classes, the "no object" column dropped afterwards;
//   - instance: queries picked by topk(sorted=False) over Q·K class scores, in the order torch's
//     CPU topk leaves them (implementation-defined); the same query may appear with several
//     classes; ids from 0, -1 where no instance, later instances overwrite earlier ones;
//     masks resized by torch's 'nearest' (src = floor(dst·in/out)); `mask_threshold` and
//     `overlap_mask_area_threshold` are unused;
//   - panoptic: threshold strict (>), "no object" queries dropped, probabilities resized then
//     weighted by the class score, first-max owner; a fused label reuses its earlier id and the
//     next new id continues from that reused id, so ids can collide; one segments entry per
//     kept query even when fused; nothing kept gives -1 everywhere and no segments;
//   - scores rounded to 6 decimals; thresholds compared as Python compares them.
// SegmentationOptions::transformers_ids false numbers panoptic segments without collisions, lists
// each id once (a fused label's first query) and returns 0 (void) when nothing is kept; instance results also carry each instance's own mask.
#include <ATen/core/Tensor.h>

#include "segkit/mask2former.h"

namespace segkit::mask2former {

// class_logits: Q × (K+1) float32; mask_logits: Q × h × w float32 (one image).
// target_height/width 0: no target size (transformers' target_sizes=None: the 384×384 map).
Segmentation semantic_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits, int target_height,
                                   int target_width);
Segmentation instance_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits,
                                   const SegmentationOptions& options, int target_height, int target_width);
Segmentation panoptic_segmentation(const at::Tensor& class_logits, const at::Tensor& mask_logits,
                                   const SegmentationOptions& options, int target_height, int target_width);

}  // namespace segkit::mask2former
