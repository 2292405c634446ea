# Types of segkit.unet: segkit unet train from Python, U-Net checkpoints as UNetModel.
from os import PathLike

from ._segkit import UNetModel as UNetModel
from ._segkit import unet_train as train

__all__ = ["UNetModel", "load", "train"]

def load(path: str | PathLike[str]) -> UNetModel: ...
