"""transformers-style pipelines over segkit: ``pipeline("mask-generation", model=...)``,
``pipeline("image-segmentation", model=...)`` and
``pipeline("promptable-concept-segmentation", model=...)``.

The call takes transformers' parameters and returns transformers' structure, computed by
segkit's native code: SAM's automatic mask generator (the same code as ``segkit generate``),
Mask2Former (the same code as ``segkit segment``) and SAM 3 (the same code as ``segkit predict
--text``).
"""
import os

import numpy as np

from . import _native
from ._devices import device_name
from ._images import as_rgb_array

TASKS = ("image-segmentation", "mask-generation", "promptable-concept-segmentation")

# The model family each task runs, and its name for people.
_TASK_FAMILY = {
    "image-segmentation": "mask2former",
    "mask-generation": "sam",
    "promptable-concept-segmentation": "sam3",
}
_FAMILY_TITLE = {"mask2former": "Mask2Former", "sam": "SAM", "sam3": "SAM 3"}

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
    then uses by default. Tasks: ``"mask-generation"`` (SAM), ``"image-segmentation"``
    (Mask2Former; needs Pillow) and ``"promptable-concept-segmentation"`` (SAM 3). ``device``:
    ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or transformers' GPU index (``0``; ``-1`` the CPU), in a
    segkit built with CUDA (docs/cuda.md). ValueError for another task or a model of another
    family.
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not available in segkit's Python package yet; tasks: {', '.join(TASKS)}")
    family = _TASK_FAMILY[task]
    if model is None:
        title = _FAMILY_TITLE[family]
        raise ValueError(f"pipeline({task!r}) needs model=: a {title} model folder, repo id or checkpoint")
    if task == "image-segmentation":
        _pil_image()  # ImportError before a model is loaded for nothing
    if not isinstance(model, _native.Model):
        model = _native.load_model(str(model), precision, device_name(device), True)
    if model.family != family:
        title = _FAMILY_TITLE.get(model.family, model.family)
        raise ValueError(f"{model.source}: a {title} model; {task} needs a {_FAMILY_TITLE[family]} model")
    if task == "image-segmentation":
        return ImageSegmentationPipeline(model, **kwargs)
    if task == "promptable-concept-segmentation":
        return PromptableConceptSegmentationPipeline(model, **kwargs)
    return MaskGenerationPipeline(model, **kwargs)


def _refuse_unknown(task, params, known):
    """TypeError naming the first parameter of `params` the task does not take, as Python's own."""
    for name in params:
        if name not in known:
            raise TypeError(f"{task}: unexpected keyword argument {name!r} (known: {', '.join(known)})")


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
        _refuse_unknown("mask-generation", params, list(_MASK_GENERATION_PARAMS) + list(_MASK_GENERATION_OPTIONS))
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


def _pil_image():
    """PIL.Image, or ImportError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(
            'the "image-segmentation" pipeline returns its masks as PIL images and needs Pillow: '
            "apt-get install python3-pil (Debian), or pip install Pillow"
        ) from e
    return Image


# transformers' ImageSegmentationPipeline call parameters and their defaults (its pipeline's,
# which differ from Mask2FormerImageProcessor's: threshold 0.9, overlap 0.5).
_IMAGE_SEGMENTATION_DEFAULTS = {
    "subtask": None,
    "threshold": 0.9,
    "mask_threshold": 0.5,
    "overlap_mask_area_threshold": 0.5,
    "label_ids_to_fuse": None,  # segkit's: transformers' pipeline does not pass it on (no fusing)
    "timeout": None,  # transformers' for URLs, which segkit refuses: taken and unused
}
# subtask=None: the first of these the model's processor has, as transformers resolves it; a
# Mask2Former processor has all three, so panoptic.
_SUBTASKS = ("panoptic", "instance", "semantic")


class ImageSegmentationPipeline:
    """Semantic, instance or panoptic segmentation: ``pipe(image, **params)`` → a list of
    ``{"score", "label", "mask"}``, ``mask`` a PIL image (mode ``"L"``, 0 or 255) of the image's
    size, in transformers' order.

    Parameters (transformers' names and its pipeline's defaults): ``subtask`` (None: panoptic;
    ``"panoptic"``, ``"instance"``, ``"semantic"``), ``threshold`` (0.9), ``mask_threshold``
    (0.5), ``overlap_mask_area_threshold`` (0.5), and segkit's ``label_ids_to_fuse`` (None;
    panoptic: labels whose segments merge, listed once per query as transformers does).
    Semantic results have one entry per class present, by label id, with score None. Masks are
    where the segment's id is in transformers' id map: an instance covered by later ones keeps
    only what shows. ``image``: a path, a PIL image, a uint8 H×W×3 array, or a list of them (then
    a list of lists).
    """

    task = "image-segmentation"

    def __init__(self, model, **defaults):
        self.model = model
        self._image = _pil_image()
        self._check(defaults)
        self._defaults = defaults

    @staticmethod
    def _check(params):
        _refuse_unknown("image-segmentation", params, list(_IMAGE_SEGMENTATION_DEFAULTS))
        subtask = params.get("subtask")
        if subtask is not None and subtask not in _SUBTASKS:
            raise ValueError(f"subtask {subtask!r} is not supported; expected None or one of {', '.join(_SUBTASKS)}")

    def __call__(self, inputs, **kwargs):
        self._check(kwargs)
        params = {**_IMAGE_SEGMENTATION_DEFAULTS, **self._defaults, **kwargs}
        if isinstance(inputs, (list, tuple)):
            return [self._one(item, params) for item in inputs]
        return self._one(inputs, params)

    def _mask(self, where):
        return self._image.fromarray(where.astype(np.uint8) * np.uint8(255))  # uint8 H×W: mode "L"

    def _one(self, image, params):
        subtask = params["subtask"] or _SUBTASKS[0]
        result = self.model.segment(
            as_rgb_array(image),
            subtask,
            threshold=params["threshold"],
            mask_threshold=params["mask_threshold"],
            overlap_mask_area_threshold=params["overlap_mask_area_threshold"],
            label_ids_to_fuse=params["label_ids_to_fuse"],
        )
        ids, labels = result["ids"], self.model.labels
        if subtask == "semantic":
            return [{"score": None, "label": labels[c], "mask": self._mask(ids == c)} for c in np.unique(ids)]
        return [
            {"score": s["score"], "label": labels[s["label_id"]], "mask": self._mask(ids == s["id"])}
            for s in result["segments"]
        ]


# transformers' PromptableConceptSegmentationPipeline call parameters and their defaults
# (Sam3Processor.post_process_instance_segmentation's thresholds).
_CONCEPT_DEFAULTS = {"threshold": 0.3, "mask_threshold": 0.5, "top_k": None, "timeout": None}


def _is_image(value):
    return isinstance(value, (str, os.PathLike, np.ndarray)) or hasattr(value, "convert")


def _exemplar_boxes(boxes):
    """transformers' input_boxes for one image ([[[x0, y0, x1, y1], ...]], [[x0, ...], ...] or
    [x0, y0, x1, y1]) as an N×4 float array."""
    a = np.asarray(boxes, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    elif a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != 4 or a.shape[0] == 0:
        raise ValueError(f"input_boxes: expected [[[x0, y0, x1, y1], ...]] for one image, got shape {a.shape}")
    return a


def _exemplar_labels(labels, count):
    """transformers' input_boxes_labels for one image ([[1, 0, ...]], [1, 0] or 1) as N ints."""
    a = np.asarray(labels)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    a = a.reshape(-1)
    if a.size != count:
        raise ValueError(f"input_boxes_labels: expected {count} labels (one per box), got {a.size}")
    return a.astype(np.int64)


class PromptableConceptSegmentationPipeline:
    """Segment by words (SAM 3): ``pipe(image, text="yellow truck")`` → every matching instance as
    ``{"score", "box": {"xmin", "ymin", "xmax", "ymax"}, "mask", "label"}``, highest score first.

    As transformers' pipeline: ``text`` a noun phrase; ``input_boxes`` exemplar boxes
    ``[[[x0, y0, x1, y1], ...]]`` in pixels with ``input_boxes_labels`` ``[[1, 0, ...]]`` (1
    positive, 0 negative), alone or with text; parameters ``threshold`` (0.3), ``mask_threshold``
    (0.5), ``top_k`` (None: all) and ``timeout`` (taken, unused: segkit reads no URLs). ``box``
    holds the model's box in pixels, truncated to ints; ``label`` is the text, where one was given;
    ``mask`` is an H×W bool NumPy array (transformers gives a torch tensor). ``image``: a path, a
    PIL image or a uint8 H×W×3 array; a list of them (``text`` one str for all or one per image;
    ``input_boxes`` and ``input_boxes_labels`` one entry per image) or a list of dicts with
    ``"image"``, ``"text"``, ``"input_boxes"``, ``"input_boxes_labels"`` give a list of lists.
    """

    task = "promptable-concept-segmentation"

    def __init__(self, model, **defaults):
        self.model = model
        self._check(defaults)
        self._defaults = defaults

    @staticmethod
    def _check(params):
        _refuse_unknown("promptable-concept-segmentation", params, list(_CONCEPT_DEFAULTS))
        top_k = params.get("top_k")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(f"top_k: expected None or a positive int, got {top_k!r}")

    def __call__(self, image, text=None, input_boxes=None, input_boxes_labels=None, **kwargs):
        self._check(kwargs)
        params = {**_CONCEPT_DEFAULTS, **self._defaults, **kwargs}
        if _is_image(image):
            return self._one({"image": image, "text": text, "input_boxes": input_boxes,
                              "input_boxes_labels": input_boxes_labels}, params)
        if isinstance(image, dict):
            return self._one(image, params)
        if not isinstance(image, (list, tuple)):
            raise ValueError(f"image: expected a path, a PIL image, a numpy.ndarray, a dict or a list of them; "
                             f"got {type(image).__name__}")
        items = list(image)
        if all(_is_image(item) for item in items):
            n = len(items)
            texts = text if isinstance(text, (list, tuple)) else [text] * n
            boxes = input_boxes if input_boxes is not None else [None] * n
            labels = input_boxes_labels if input_boxes_labels is not None else [None] * n
            for name, given in (("text", texts), ("input_boxes", boxes), ("input_boxes_labels", labels)):
                if len(given) != n:
                    raise ValueError(f"{name}: {len(given)} entries for {n} images")
            items = [{"image": i, "text": t, "input_boxes": b, "input_boxes_labels": l}
                     for i, t, b, l in zip(items, texts, boxes, labels)]
        return [self._one(item, params) for item in items]

    def _one(self, inputs, params):
        if not isinstance(inputs, dict) or "image" not in inputs:
            raise ValueError("each input: expected an image or a dict with \"image\" and its prompts")
        text, boxes, labels = inputs.get("text"), inputs.get("input_boxes"), inputs.get("input_boxes_labels")
        if text is None and boxes is None:
            raise ValueError("give at least one prompt: text (text=\"cat\") or input_boxes (input_boxes=[[[100, 150, 200, 250]]])")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"text: expected one str per image, got {type(text).__name__}")
        if boxes is not None:
            boxes = _exemplar_boxes(boxes)
            if labels is not None:
                labels = _exemplar_labels(labels, len(boxes))
        elif labels is not None:
            raise ValueError("input_boxes_labels: given without input_boxes")
        found = self.model.segment(as_rgb_array(inputs["image"]), text=text, boxes=boxes, box_labels=labels,
                                   threshold=params["threshold"], mask_threshold=params["mask_threshold"])
        results = []
        for score, box, mask in zip(found["scores"], found["boxes"], found["masks"]):
            xmin, ymin, xmax, ymax = (int(v) for v in box)  # truncated toward zero, as torch's .int()
            result = {"score": float(score), "box": {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax},
                      "mask": mask}
            if text is not None:
                result["label"] = text
            results.append(result)
        results.sort(key=lambda r: r["score"], reverse=True)  # stable: ties keep query order
        top_k = params["top_k"]
        return results if top_k is None else results[:top_k]
