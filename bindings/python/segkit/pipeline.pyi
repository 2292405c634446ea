from os import PathLike
from typing import Any, Iterable, Literal, TypedDict, overload

import numpy as np
import numpy.typing as npt

from PIL import Image

from ._images import _ImageInput
from ._segkit import Mask2FormerModel, Model, Sam3Model

TASKS: tuple[str, ...]

_ModelInput = str | PathLike[str] | Model
_Subtask = Literal["panoptic", "instance", "semantic"]

class _ImageSegment(TypedDict):
    score: float | None  # None for semantic classes
    label: str
    mask: Image.Image  # mode "L", 0 or 255, the image's size

class _ConceptBox(TypedDict):
    xmin: int
    ymin: int
    xmax: int
    ymax: int

class _ConceptInstance(TypedDict, total=False):
    score: float
    box: _ConceptBox
    mask: npt.NDArray[np.bool_]  # H×W
    label: str  # the text prompt, where one was given

class _ConceptInputs(TypedDict, total=False):
    image: _ImageInput
    text: str | None
    input_boxes: Any
    input_boxes_labels: Any

class MaskGenerationPipeline:
    task: str
    model: Model
    def __init__(self, model: Model, **defaults: Any) -> None: ...
    @overload
    def __call__(self, image: list[_ImageInput] | tuple[_ImageInput, ...], **kwargs: Any) -> list[dict[str, Any]]: ...
    @overload
    def __call__(self, image: _ImageInput, **kwargs: Any) -> dict[str, Any]: ...

class ImageSegmentationPipeline:
    task: str
    model: Mask2FormerModel
    def __init__(self, model: Mask2FormerModel, **defaults: Any) -> None: ...
    @overload
    def __call__(
        self,
        inputs: list[_ImageInput] | tuple[_ImageInput, ...],
        *,
        subtask: _Subtask | None = None,
        threshold: float = 0.9,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.5,
        label_ids_to_fuse: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> list[list[_ImageSegment]]: ...
    @overload
    def __call__(
        self,
        inputs: _ImageInput,
        *,
        subtask: _Subtask | None = None,
        threshold: float = 0.9,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.5,
        label_ids_to_fuse: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> list[_ImageSegment]: ...

class PromptableConceptSegmentationPipeline:
    task: str
    model: Sam3Model
    def __init__(self, model: Sam3Model, **defaults: Any) -> None: ...
    @overload
    def __call__(
        self,
        image: _ImageInput | _ConceptInputs,
        text: str | None = None,
        input_boxes: Any = None,
        input_boxes_labels: Any = None,
        *,
        threshold: float = 0.3,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        timeout: float | None = None,
    ) -> list[_ConceptInstance]: ...
    @overload
    def __call__(
        self,
        image: list[_ImageInput] | tuple[_ImageInput, ...] | list[_ConceptInputs],
        text: str | list[str] | None = None,
        input_boxes: Any = None,
        input_boxes_labels: Any = None,
        *,
        threshold: float = 0.3,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        timeout: float | None = None,
    ) -> list[list[_ConceptInstance]]: ...

@overload
def pipeline(
    task: Literal["mask-generation"],
    model: _ModelInput | None = None,
    device: str | int = "cpu",
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    **kwargs: Any,
) -> MaskGenerationPipeline: ...
@overload
def pipeline(
    task: Literal["image-segmentation"],
    model: _ModelInput | None = None,
    device: str | int = "cpu",
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    **kwargs: Any,
) -> ImageSegmentationPipeline: ...
@overload
def pipeline(
    task: Literal["promptable-concept-segmentation"],
    model: _ModelInput | None = None,
    device: str | int = "cpu",
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    **kwargs: Any,
) -> PromptableConceptSegmentationPipeline: ...
@overload
def pipeline(
    task: str,
    model: _ModelInput | None = None,
    device: str | int = "cpu",
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    **kwargs: Any,
) -> MaskGenerationPipeline | ImageSegmentationPipeline | PromptableConceptSegmentationPipeline: ...
