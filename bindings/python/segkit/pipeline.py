"""transformers-style pipelines over segkit: ``pipeline("mask-generation", model=...)``.

The call takes transformers' parameters and returns transformers' structure, computed by
segkit's native SAM automatic mask generator (the same code as ``segkit generate``).
"""
import numpy as np

from . import _native
from ._images import as_rgb_array

TASKS = ("mask-generation",)

# transformers' MaskGenerationPipeline call parameters → segkit's (segment-anything's) names.
_MASK_GENERATION_PARAMS = {
    "points_per_batch": "points_per_batch",
    "points_per_crop": "points_per_side",
    "crops_n_layers": "crop_n_layers",
    "crop_overlap_ratio": "crop_overlap_ratio",
    "crop_n_points_downscale_factor": "crop_n_points_downscale_factor",
    "pred_iou_thresh": "pred_iou_thresh",
    "stability_score_thresh": "stability_score_thresh",
    "stability_score_offset": "stability_score_offset",
}
_MASK_GENERATION_OPTIONS = ("crops_nms_thresh", "mask_threshold", "output_rle_mask", "output_bboxes_mask", "timeout")


def pipeline(task, model=None, device="cpu", precision="fp32", **kwargs):
    """A pipeline for ``task``, as transformers' ``pipeline(task, model=...)``.

    ``model``: a model folder, a Hugging Face repo id in the local cache, a checkpoint file, or a
    model from ``segkit.load_model``. Other keyword arguments are call parameters the pipeline
    then uses by default. Tasks: ``"mask-generation"`` (SAM).
    """
    if task != "mask-generation":
        raise ValueError(f"task {task!r} is not available in segkit's Python package yet; tasks: {', '.join(TASKS)}")
    if model is None:
        raise ValueError('pipeline("mask-generation") needs model=: a SAM model folder, repo id or checkpoint')
    if not isinstance(model, _native.Model):
        model = _native.load_model(str(model), precision, device, True)
    if model.family != "sam":
        raise ValueError(f"{model.source}: a {model.family} model; mask-generation needs a SAM model")
    return MaskGenerationPipeline(model, **kwargs)


def _mask_to_rle(mask):
    """transformers' uncompressed RLE of one H×W bool mask: column-major runs, zeros first."""
    flat = mask.T.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return {"size": list(mask.shape), "counts": counts}


class MaskGenerationPipeline:
    """Segment everything: ``pipe(image, **params)`` → ``{"masks": [H×W bool arrays], "scores": array}``.

    Parameters (transformers' names and defaults): ``points_per_batch`` (64), ``points_per_crop``
    (32), ``pred_iou_thresh`` (0.88), ``stability_score_thresh`` (0.95),
    ``stability_score_offset`` (1), ``crops_nms_thresh`` (0.7: duplicates within and between
    crops), ``crops_n_layers`` (0), ``crop_overlap_ratio`` (512/1500),
    ``crop_n_points_downscale_factor`` (1), ``mask_threshold`` (0 only), ``output_rle_mask`` and
    ``output_bboxes_mask`` (False: add ``"rle_mask"`` and ``"bounding_boxes"`` XYXY). ``image``:
    a path, a PIL image, a uint8 H×W×3 array, or a list of them (then a list of results).
    """

    task = "mask-generation"

    def __init__(self, model, **defaults):
        self.model = model
        self._check(defaults)
        self._defaults = defaults
        self._generators = {}

    @staticmethod
    def _check(params):
        for name in params:
            if name not in _MASK_GENERATION_PARAMS and name not in _MASK_GENERATION_OPTIONS:
                known = ", ".join(list(_MASK_GENERATION_PARAMS) + list(_MASK_GENERATION_OPTIONS))
                raise TypeError(f"mask-generation: unexpected keyword argument {name!r} (known: {known})")
        threshold = params.get("mask_threshold", 0.0)
        if threshold != 0:
            raise ValueError(f"mask_threshold: only 0.0 (the model's threshold) is supported, got {threshold!r}")

    def _generator(self, params):
        native = {_MASK_GENERATION_PARAMS[k]: v for k, v in params.items() if k in _MASK_GENERATION_PARAMS}
        if "crops_nms_thresh" in params:
            native["box_nms_thresh"] = native["crop_nms_thresh"] = params["crops_nms_thresh"]
        key = tuple(sorted(native.items()))
        if key not in self._generators:
            self._generators[key] = _native.SamMaskGenerator(self.model, native, "binary_mask")
        return self._generators[key]

    def __call__(self, image, *args, **kwargs):
        if args:
            raise TypeError("mask-generation: give parameters by name (pipe(image, points_per_batch=64, ...))")
        self._check(kwargs)
        params = {**self._defaults, **kwargs}
        generator = self._generator(params)
        if isinstance(image, (list, tuple)):
            return [self._one(generator, item, params) for item in image]
        return self._one(generator, image, params)

    @staticmethod
    def _one(generator, image, params):
        records = generator.generate(as_rgb_array(image))
        masks = [r["segmentation"] for r in records]
        out = {"masks": masks, "scores": np.array([r["predicted_iou"] for r in records], dtype=np.float32)}
        if params.get("output_rle_mask"):
            out["rle_mask"] = [_mask_to_rle(m) for m in masks]
        if params.get("output_bboxes_mask"):
            out["bounding_boxes"] = np.array(
                [[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in records)], dtype=np.int64
            ).reshape(-1, 4)
        return out
