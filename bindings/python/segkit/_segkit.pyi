# Types of the extension module _segkit (pybind11; segkit_module.cpp). Use it through the segkit
# package, which re-exports what is public.
from os import PathLike
from typing import Any, Iterable, Literal, Sequence, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str

_Precision = Literal["fp32", "bf16", "auto"]
_Task = Literal["semantic", "instance", "panoptic"]

class Model:
    """A loaded model (load_model)."""

    @property
    def family(self) -> str: ...  # "sam", "mask2former", ...
    @property
    def source(self) -> str: ...
    @property
    def architecture(self) -> str: ...

class _Segment(TypedDict):
    id: int  # its value in "ids"
    label_id: int  # index into Mask2FormerModel.labels
    score: float | None  # None for semantic classes
    was_fused: bool

class _Segmentation(TypedDict):
    ids: npt.NDArray[np.int32]  # H×W: semantic class ids; instance ids from 0 (-1: none); panoptic from 1
    segments: list[_Segment]
    instance_masks: npt.NDArray[np.bool_] | None  # K×H×W for instance, else None

class Mask2FormerModel(Model):
    """A Mask2Former model: semantic, instance and panoptic segmentation in one call."""

    @staticmethod
    def load(
        name_or_path: str | PathLike[str],
        precision: _Precision = "fp32",
        device: str = "cpu",
        warn_unused: bool = True,
    ) -> Mask2FormerModel: ...
    @property
    def labels(self) -> list[str]: ...
    def segment(
        self,
        image: npt.NDArray[np.uint8],
        task: _Task,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.8,
        label_ids_to_fuse: Iterable[int] | None = None,
    ) -> _Segmentation: ...

class _Sam3Instances(TypedDict):
    text: str  # the phrase the model read ("visual" for boxes alone)
    scores: npt.NDArray[np.float32]  # N
    boxes: npt.NDArray[np.float32]  # N×4 x0, y0, x1, y1 in pixels
    queries: npt.NDArray[np.int64]  # N, ascending
    masks: npt.NDArray[np.bool_]  # N×H×W
    truncated: bool  # the phrase was cut to the text model's length

class Sam3Model(Model):
    """A SAM 3 model: every instance a phrase and/or exemplar boxes name."""

    @staticmethod
    def load(
        name_or_path: str | PathLike[str],
        precision: _Precision = "fp32",
        device: str = "cpu",
        warn_unused: bool = True,
    ) -> Sam3Model: ...
    def segment(
        self,
        image: npt.NDArray[np.uint8],
        text: str | None = None,
        boxes: npt.ArrayLike | None = None,
        box_labels: npt.ArrayLike | None = None,
        threshold: float = 0.3,
        mask_threshold: float = 0.5,
    ) -> _Sam3Instances: ...

class _UNetPrediction(TypedDict):
    labels: npt.NDArray[np.int32]  # H×W class indices
    probabilities: npt.NDArray[np.float32] | None  # C×H×W, with probabilities=True

class UNetModel(Model):
    """A U-Net (segkit unet train's checkpoints): a class per pixel."""

    @staticmethod
    def load(path: str | PathLike[str]) -> UNetModel: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def classes(self) -> int: ...
    @property
    def in_channels(self) -> int: ...
    def predict(
        self,
        image: npt.NDArray[np.uint8],
        tile: int = 0,
        overlap: int = -1,
        probabilities: bool = False,
        test_time_augmentation: bool = False,
    ) -> _UNetPrediction: ...
    def evaluate(
        self, data_dir: str | PathLike[str], tile: int = 0, overlap: int = -1, test_time_augmentation: bool = False
    ) -> dict[str, Any]: ...
    def save(self, path: str | PathLike[str]) -> None: ...

class _UNetRun(TypedDict):
    epochs_done: int
    log: list[dict[str, Any]]  # one per epoch, as log.jsonl
    best: str
    last: str

def unet_train(
    *,
    data: str | PathLike[str] | None = None,
    out: str | PathLike[str],
    val: str | PathLike[str] | None = None,
    val_split: Sequence[str] = ...,
    classes: int = 0,
    epochs: int = 0,
    steps_per_epoch: int = 0,
    batch_size: int = 4,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    crop: int = 256,
    depth: int = 4,
    width: int = 16,
    upsample: Literal["transpose", "bilinear"] = "transpose",
    padding: Literal["same", "valid"] = "same",
    batch_norm: bool = True,
    loss: Literal["ce", "dice", "ce+dice"] = "ce+dice",
    class_weights: Sequence[float] = ...,
    border_weight: float = 0.0,
    border_sigma: float = 5.0,
    ema: float = 0.0,
    dropout: float = 0.0,
    augment: Sequence[Literal["flip", "rot90", "elastic", "intensity", "none"]] = ...,
    seed: int = 0,
    precision: Literal["fp32", "bf16"] = "fp32",
    resume: bool = False,
    quiet: bool = False,
    dist_url: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    dist_timeout: float = 300.0,
    sync_batch_norm: bool = False,
) -> _UNetRun: ...

class SamPredictor:
    """segment-anything's SamPredictor: encode an image once, prompt it often."""

    def __init__(self, sam_model: Model) -> None: ...
    def set_image(self, image: npt.NDArray[np.uint8], image_format: Literal["RGB", "BGR"] = "RGB") -> None: ...
    def predict(
        self,
        point_coords: npt.ArrayLike | None = None,
        point_labels: npt.ArrayLike | None = None,
        box: npt.ArrayLike | None = None,
        mask_input: npt.ArrayLike | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
    def get_image_embedding(self) -> npt.NDArray[np.float32]: ...
    def reset_image(self) -> None: ...
    @property
    def is_image_set(self) -> bool: ...
    @property
    def original_size(self) -> tuple[int, int]: ...
    @property
    def input_size(self) -> tuple[int, int]: ...
    @property
    def model(self) -> Model: ...

class SamMaskGenerator:
    """segment-anything's automatic mask generator, parameters by name (segkit.SamAutomaticMaskGenerator)."""

    def __init__(self, model: Model, params: dict[str, int | float], output_mode: str = "binary_mask") -> None: ...
    def generate(self, image: npt.NDArray[np.uint8]) -> list[dict[str, Any]]: ...
    @property
    def params(self) -> dict[str, int | float]: ...
    @property
    def output_mode(self) -> str: ...

def load_model(name_or_path: str, precision: _Precision = "fp32", device: str = "cpu", warn_unused: bool = True) -> Model: ...
def load_image(path: str) -> npt.NDArray[np.uint8]: ...
def set_num_threads(threads: int) -> None: ...
def num_threads() -> int: ...

# segkit.evaluate's native part (evaluation.cpp); the package's functions check and convert
# their inputs first.
def evaluate_semantic(
    predictions: Sequence[npt.NDArray[np.integer[Any] | np.bool_]],
    references: Sequence[npt.NDArray[np.integer[Any] | np.bool_]],
    num_labels: int,
    ignore_index: int,
    nan_to_num: float | None = None,
    label_map: Sequence[tuple[int, int]] | None = None,
    reduce_labels: bool = False,
) -> dict[str, Any]: ...
def evaluate_coco(annotation_file: str, results_file: str, threads: int = 0) -> dict[str, Any]: ...
def evaluate_panoptic(
    gt_json_file: str, pred_json_file: str, gt_folder: str, pred_folder: str, threads: int = 0
) -> dict[str, Any]: ...
