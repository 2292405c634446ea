"""segment-anything's API over segkit: SamPredictor and SamAutomaticMaskGenerator."""
from . import _native
from ._images import as_rgb_array

# segment-anything's SamPredictor, as is: set_image, predict, get_image_embedding, reset_image.
SamPredictor = _native.SamPredictor


class SamAutomaticMaskGenerator:
    """segment-anything's SamAutomaticMaskGenerator: segment everything in an image.

    ``generate(image)`` returns upstream's list of records, in upstream's order, each a dict with
    ``segmentation`` (H×W bool array, or an RLE dict for ``output_mode="uncompressed_rle"`` /
    ``"coco_rle"``), ``area``, ``bbox`` (XYWH), ``predicted_iou``, ``point_coords``,
    ``stability_score`` and ``crop_box``.
    """

    def __init__(
        self,
        model,
        points_per_side=32,
        points_per_batch=64,
        pred_iou_thresh=0.88,
        stability_score_thresh=0.95,
        stability_score_offset=1.0,
        box_nms_thresh=0.7,
        crop_n_layers=0,
        crop_nms_thresh=0.7,
        crop_overlap_ratio=512 / 1500,
        crop_n_points_downscale_factor=1,
        point_grids=None,
        min_mask_region_area=0,
        output_mode="binary_mask",
    ):
        if points_per_side is None or point_grids is not None:
            raise ValueError("point_grids: custom point grids are not supported yet; give points_per_side")
        params = dict(
            points_per_side=points_per_side,
            points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset,
            box_nms_thresh=box_nms_thresh,
            crop_n_layers=crop_n_layers,
            crop_nms_thresh=crop_nms_thresh,
            crop_overlap_ratio=crop_overlap_ratio,
            crop_n_points_downscale_factor=crop_n_points_downscale_factor,
            min_mask_region_area=min_mask_region_area,
        )
        self._generator = _native.SamMaskGenerator(model, params, output_mode)
        self.predictor = None  # upstream keeps its SamPredictor here; segkit's generator has its own

    @property
    def params(self):
        return self._generator.params

    @property
    def output_mode(self):
        return self._generator.output_mode

    def generate(self, image):
        """Records for a uint8 H×W×3 RGB array (or a path or PIL image)."""
        return self._generator.generate(as_rgb_array(image))
