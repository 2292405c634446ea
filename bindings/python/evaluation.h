#pragma once
// The native part of segkit.evaluate: Hugging Face evaluate's mean_iou over NumPy label maps,
// pycocotools' COCOeval (segm) and panopticapi's pq_compute over files.
#include <pybind11/pybind11.h>

#include "segkit/metrics.h"

// Adds evaluate_semantic, evaluate_coco and evaluate_panoptic to the module.
void bind_evaluation(pybind11::module_& m);

namespace segkit::python {
// Hugging Face evaluate's mean_iou dict (with segkit's Dice) of a result.
pybind11::dict semantic_dict(const segkit::SemanticResult& result);
}  // namespace segkit::python
