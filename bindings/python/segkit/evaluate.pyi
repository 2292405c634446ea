# Types of segkit.evaluate: Hugging Face evaluate's mean_iou, pycocotools' COCOeval (segm) and
# panopticapi's pq_compute.
from os import PathLike
from typing import Iterable, Literal, Mapping, TypedDict

import numpy as np
import numpy.typing as npt

_Path = str | PathLike[str]

# The result types exist only here, hence private (as in _segkit.pyi).
class _MeanIoU(TypedDict):
    mean_iou: float  # NaN where every class is NaN (nan_to_num replaces it)
    mean_accuracy: float
    overall_accuracy: float
    per_category_iou: npt.NDArray[np.float64]  # num_labels, NaN for a class in neither
    per_category_accuracy: npt.NDArray[np.float64]

def mean_iou(
    predictions: Iterable[npt.ArrayLike],
    references: Iterable[npt.ArrayLike],
    num_labels: int,
    ignore_index: int,
    nan_to_num: float | None = None,
    label_map: Mapping[int, int] | Iterable[tuple[int, int]] | None = None,
    reduce_labels: bool = False,
) -> _MeanIoU: ...

# The 12 stats of COCOeval.summarize() by name (TypedDict's functional form: "AP50" etc. are
# keys), "stats" in that order, and {category id: value} per category.
_CocoStats = TypedDict(
    "_CocoStats",
    {
        "AP": float,
        "AP50": float,
        "AP75": float,
        "APs": float,
        "APm": float,
        "APl": float,
        "AR1": float,
        "AR10": float,
        "AR100": float,
        "ARs": float,
        "ARm": float,
        "ARl": float,
        "stats": npt.NDArray[np.float64],
        "per_category_ap": dict[int, float],
        "per_category_ap50": dict[int, float],
        "per_category_ar100": dict[int, float],
        "per_category_num_gt": dict[int, int],
    },
)

def coco(
    annotation_file: _Path, results_file: _Path, iou_type: Literal["segm"] = "segm", threads: int = 0
) -> _CocoStats: ...

class _PanopticGroup(TypedDict):
    pq: float  # NaN when n is 0
    sq: float
    rq: float
    n: int  # categories with a TP, FP or FN

class _PanopticClass(TypedDict):
    pq: float
    sq: float
    rq: float

_PanopticResult = TypedDict(
    "_PanopticResult",
    {"All": _PanopticGroup, "Things": _PanopticGroup, "Stuff": _PanopticGroup, "per_class": dict[int, _PanopticClass]},
)

def panoptic(
    gt_json_file: _Path,
    pred_json_file: _Path,
    gt_folder: _Path | None = None,
    pred_folder: _Path | None = None,
    threads: int = 0,
) -> _PanopticResult: ...

__all__ = ["coco", "mean_iou", "panoptic"]
