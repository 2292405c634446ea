"""Segmentation metrics with the numbers of the reference libraries, computed by segkit's C++
(the code of ``segkit eval``):

- ``mean_iou``: Hugging Face evaluate's ``evaluate.load("mean_iou").compute(...)``;
- ``coco``: pycocotools' ``COCOeval(iouType="segm")`` summary of a results file;
- ``panoptic``: panopticapi's ``pq_compute`` of COCO panoptic PNG folders.

See docs/python.md ("Evaluation") and docs/evaluation.md for the rules they reproduce.
"""
import operator
import os
from collections.abc import Mapping

import numpy as np

from . import _native

# evaluate's output keys; the native result has more (dice, areas, pixel counts).
_MEAN_IOU_KEYS = ("mean_iou", "mean_accuracy", "overall_accuracy", "per_category_iou", "per_category_accuracy")


def _label_array(labels, what):
    """A 2-D integer array segkit can read in place (a copy only where the layout asks for one)."""
    a = np.asarray(labels)
    if a.dtype.kind not in "iub":
        raise ValueError(f"{what}: expected integer labels, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D label map (H, W), got shape {a.shape}")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.ascontiguousarray(a)


def _label_pairs(label_map):
    """evaluate's ``{old: new}`` (or [(old, new), ...]) as pairs, in order."""
    if label_map is None:
        return None
    items = label_map.items() if isinstance(label_map, Mapping) else label_map
    pairs = []
    for item in items:
        try:
            old, new = item
            pairs.append((operator.index(old), operator.index(new)))
        except (TypeError, ValueError):
            raise ValueError(f"label_map: expected {{old: new}} integer labels, got the entry {item!r}") from None
    return pairs


def mean_iou(predictions, references, num_labels, ignore_index, nan_to_num=None, label_map=None,
             reduce_labels=False):
    """Hugging Face evaluate's ``mean_iou``: the same parameters, the same numbers, the same dict.

    ``predictions`` and ``references``: lists of 2-D integer label maps (NumPy arrays or array-
    likes), one pair per image, each prediction of its reference's shape; images may differ in
    size. Areas are summed over all images before any ratio is taken. ``num_labels``: classes
    are ``0 .. num_labels-1``. ``ignore_index``: the reference value left out of every count.
    ``nan_to_num``: replaces NaN in the outputs (after the means are taken). ``label_map``:
    ``{old: new}`` applied to the references, in order. ``reduce_labels``: the references'
    0 becomes 255 and every other label drops by 1 (255 stays 255).

    As in evaluate, predictions are never remapped or reduced, and a label outside
    ``[0, num_labels)`` is counted in no class (a wrong prediction; an out-of-range reference
    drops out of every count).

    Returns ``{"mean_iou", "mean_accuracy", "overall_accuracy"}`` as floats and
    ``{"per_category_iou", "per_category_accuracy"}`` as float64 arrays of ``num_labels``; NaN
    for 0/0 (a class in neither), skipped by the means. int32, uint8 and uint16 pairs are read
    in place; other integer dtypes are converted. ValueError for non-integer or non-2-D arrays,
    a pair of different shapes, lists of different lengths, num_labels < 1.
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references: expected as many of each, got {len(predictions)} and {len(references)}"
        )
    preds = [_label_array(p, f"predictions[{i}]") for i, p in enumerate(predictions)]
    refs = [_label_array(r, f"references[{i}]") for i, r in enumerate(references)]
    for i, (p, r) in enumerate(zip(preds, refs)):
        if p.shape != r.shape:
            raise ValueError(
                f"predictions[{i}] has shape {p.shape} but references[{i}] {r.shape}; "
                "each prediction must have its reference's shape"
            )
    num_labels = operator.index(num_labels)
    if num_labels < 1:
        raise ValueError(f"num_labels: expected at least 1, got {num_labels}")
    result = _native.evaluate_semantic(
        preds, refs, num_labels, operator.index(ignore_index),
        None if nan_to_num is None else float(nan_to_num), _label_pairs(label_map), bool(reduce_labels),
    )
    return {key: result[key] for key in _MEAN_IOU_KEYS}


def _existing(path, what, folder=False):
    path = os.fspath(path)
    if not (os.path.isdir(path) if folder else os.path.isfile(path)):
        raise FileNotFoundError(f"{what}: {path}: no such {'folder' if folder else 'file'}")
    return path


def _threads(threads):
    threads = operator.index(threads)
    if threads < 0:
        raise ValueError(f"threads: expected 0 (all cores) or more, got {threads}")
    return threads


def coco(annotation_file, results_file, iou_type="segm", threads=0):
    """pycocotools' ``COCOeval(COCO(annotation_file), coco.loadRes(results_file), "segm")``
    after ``evaluate()``, ``accumulate()`` and ``summarize()``: the numbers of
    ``segkit eval instance --gt annotation_file --results results_file``.

    ``annotation_file``: a COCO instances JSON (images, annotations as polygons or RLE,
    categories); ``results_file``: a JSON list of ``{"image_id", "category_id", "segmentation"
    (RLE), "score"}``. ``iou_type``: ``"segm"`` only (segkit compares masks). ``threads``: 0 =
    all cores.

    Returns the 12 stats of ``summarize()`` by name (``"AP"``, ``"AP50"``, ``"AP75"``,
    ``"APs"``, ``"APm"``, ``"APl"``, ``"AR1"``, ``"AR10"``, ``"AR100"``, ``"ARs"``, ``"ARm"``,
    ``"ARl"``; -1 where COCOeval gives -1), ``"stats"`` (the 12 in that order, as
    ``COCOeval.stats``), and ``{category id: value}`` dicts ``"per_category_ap"`` (IoU
    .50:.95), ``"per_category_ap50"``, ``"per_category_ar100"`` (-1 without ground truth) and
    ``"per_category_num_gt"``. FileNotFoundError for a missing file, ValueError for one that
    cannot be read (malformed JSON or RLE, results on images not in the annotations).
    """
    if iou_type != "segm":
        raise ValueError(f"iou_type: segkit evaluates masks only, \"segm\"; got {iou_type!r}")
    return _native.evaluate_coco(
        _existing(annotation_file, "annotation_file"), _existing(results_file, "results_file"), _threads(threads)
    )


def _folder_of(json_file):
    """panopticapi's default PNG folder: the JSON file's path without ``.json``."""
    path = os.fspath(json_file)
    return path[: -len(".json")] if path.endswith(".json") else path


def panoptic(gt_json_file, pred_json_file, gt_folder=None, pred_folder=None, threads=0):
    """panopticapi's ``pq_compute(gt_json_file, pred_json_file, gt_folder, pred_folder)``: the
    numbers of ``segkit eval panoptic``.

    COCO panoptic format: each JSON's annotations name a PNG in its folder (segment id
    ``R + 256·G + 65536·B``, 0 = VOID) and list its ``segments_info``; the ground truth's
    ``categories`` carry ``isthing``. A folder left out is, as in panopticapi, its JSON
    file's path without ``.json``. ``threads``: 0 = all cores.

    Returns ``{"All", "Things", "Stuff"}``, each ``{"pq", "sq", "rq", "n"}`` (``n``: the
    categories with a TP, FP or FN), and ``"per_class"``: ``{category id: {"pq", "sq",
    "rq"}}``. A group without categories has ``n`` 0 and NaN values, where panopticapi raises
    ZeroDivisionError. FileNotFoundError for a missing file or folder, ValueError for what
    cannot be read or does not match (a gt image without prediction, segments missing from a
    PNG or its JSON, unknown categories).
    """
    gt_folder = _folder_of(gt_json_file) if gt_folder is None else gt_folder
    pred_folder = _folder_of(pred_json_file) if pred_folder is None else pred_folder
    return _native.evaluate_panoptic(
        _existing(gt_json_file, "gt_json_file"), _existing(pred_json_file, "pred_json_file"),
        _existing(gt_folder, "gt_folder", folder=True), _existing(pred_folder, "pred_folder", folder=True),
        _threads(threads),
    )


__all__ = ["coco", "mean_iou", "panoptic"]
