"""segkit: image segmentation in native C++, from Python.

    from segkit import pipeline
    pipe = pipeline("mask-generation", model="facebook/sam-vit-base")
    outputs = pipe(image)            # {"masks": [H×W bool arrays], "scores": array}

    segmenter = pipeline("image-segmentation", model="facebook/mask2former-swin-tiny-coco-panoptic")
    segments = segmenter(image)      # [{"score", "label", "mask": PIL image}]

    finder = pipeline("promptable-concept-segmentation", model="facebook/sam3")
    trucks = finder(image, text="yellow truck")   # [{"score", "box", "mask", "label"}]

    run = segkit.unet.train(data="cells/", out="run/")   # segkit unet train
    labels = segkit.UNetModel.load(run["best"]).predict(image)["labels"]

segment-anything's API: ``load_model``, ``SamPredictor``, ``SamAutomaticMaskGenerator``;
Mask2Former's: ``Mask2FormerModel``, SAM 3's: ``Sam3Model`` and U-Net's: ``UNetModel`` (what
``load_model`` gives for one) and ``segkit.unet.train``.
Metrics: ``segkit.evaluate.mean_iou`` (Hugging Face evaluate's), ``coco`` and ``panoptic``.
See docs/python.md.
"""
import os

try:  # installed: the extension module inside the package
    from . import _segkit as _native
except ImportError:  # a build tree: build/python/_segkit*.so on PYTHONPATH next to bindings/python
    import _segkit as _native

from . import evaluate, unet
from ._devices import device_name
from ._images import as_rgb_array
from .pipeline import pipeline
from .sam import SamAutomaticMaskGenerator, SamPredictor

Model = _native.Model
Mask2FormerModel = _native.Mask2FormerModel
Sam3Model = _native.Sam3Model
UNetModel = _native.UNetModel
num_threads = _native.num_threads
set_num_threads = _native.set_num_threads
__version__ = _native.__version__


def load_image(path):
    """Decodes an image file to a uint8 H×W×3 RGB array, as segkit's CLI reads it (EXIF
    orientation applied, grey expanded, alpha dropped). FileNotFoundError when it is missing,
    ValueError when it cannot be decoded."""
    return _native.load_image(os.fspath(path))


def load_model(name_or_path, precision="fp32", device="cpu", warn_unused=True):
    """Loads a model once, for pipelines, SamPredictor and SamAutomaticMaskGenerator; a
    Mask2Former model comes as a ``Mask2FormerModel``, a SAM 3 model as a ``Sam3Model`` (each a
    ``Model`` with ``segment``) and a U-Net checkpoint as a ``UNetModel`` (``predict``).

    ``name_or_path``: a Hugging Face model folder, a repo id in the local Hugging Face cache
    (``facebook/sam-vit-base``; ``segkit pull`` downloads one), a ``.safetensors`` file or an
    official ``.pth`` checkpoint. ``precision``: ``"fp32"``, ``"bf16"`` or ``"auto"``;
    ``device``: ``"cpu"``, or ``"cuda"``, ``"cuda:N"`` (or a GPU index) in a segkit built with
    CUDA (docs/cuda.md). FileNotFoundError when it is not found, ValueError when it cannot be
    read or run (a device this build has not).
    """
    return _native.load_model(str(name_or_path), precision, device_name(device), warn_unused)


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
