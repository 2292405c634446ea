from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._images import _ImageInput
from ._segkit import Model, SamPredictor as SamPredictor

class SamAutomaticMaskGenerator:
    """segment-anything's SamAutomaticMaskGenerator: segment everything in an image."""

    predictor: None
    def __init__(
        self,
        model: Model,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = ...,  # 512 / 1500
        crop_n_points_downscale_factor: int = 1,
        point_grids: None = None,
        min_mask_region_area: int = 0,
        output_mode: Literal["binary_mask", "uncompressed_rle", "coco_rle"] = "binary_mask",
    ) -> None: ...
    @property
    def params(self) -> dict[str, int | float]: ...
    @property
    def output_mode(self) -> str: ...
    def generate(self, image: _ImageInput) -> list[dict[str, Any]]: ...
