# Types of segkit's public API (PEP 561: py.typed marks the package as typed).
from os import PathLike
from typing import Literal

import numpy as np
import numpy.typing as npt

from . import evaluate as evaluate
from . import unet as unet
from ._images import as_rgb_array as as_rgb_array
from ._segkit import Mask2FormerModel as Mask2FormerModel
from ._segkit import Model as Model
from ._segkit import Sam3Model as Sam3Model
from ._segkit import UNetModel as UNetModel
from ._segkit import num_threads as num_threads
from ._segkit import set_num_threads as set_num_threads
from .pipeline import pipeline as pipeline
from .sam import SamAutomaticMaskGenerator as SamAutomaticMaskGenerator
from .sam import SamPredictor as SamPredictor

__version__: str
__all__ = [
    "Mask2FormerModel",
    "Model",
    "Sam3Model",
    "SamAutomaticMaskGenerator",
    "SamPredictor",
    "UNetModel",
    "as_rgb_array",
    "evaluate",
    "load_image",
    "load_model",
    "num_threads",
    "pipeline",
    "set_num_threads",
    "unet",
]

def load_image(path: str | PathLike[str]) -> npt.NDArray[np.uint8]: ...

# A Mask2Former model comes as a Mask2FormerModel, a SAM 3 model as a Sam3Model and a U-Net
# checkpoint as a UNetModel (Mask2FormerModel.load, Sam3Model.load and UNetModel.load give those types).
def load_model(
    name_or_path: str | PathLike[str],
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    device: str | int = "cpu",
    warn_unused: bool = True,
) -> Model: ...
