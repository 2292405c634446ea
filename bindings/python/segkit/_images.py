"""Images as segkit takes them: uint8 H×W×3 RGB NumPy arrays."""
import os

import numpy as np


def _native():
    from . import _native as native  # the package's extension module, imported once there

    return native


def as_rgb_array(image):
    """A uint8 H×W×3 RGB array from a path, a PIL image or a NumPy array.

    Paths are decoded by segkit (EXIF orientation applied, as its CLI reads them); PIL images
    are converted to RGB; NumPy arrays are passed on as they are (the native module refuses a
    wrong dtype, shape or layout with ValueError).
    """
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if path.startswith(("http://", "https://")):
            raise ValueError(f"{path}: URLs are not supported; download the image and pass its path")
        return _native().load_image(path)
    if isinstance(image, np.ndarray):
        return image
    if hasattr(image, "convert") and hasattr(image, "mode") and hasattr(image, "size"):  # PIL.Image.Image
        return np.asarray(image.convert("RGB"))
    raise ValueError(
        f"image: expected a path, a PIL image or a numpy.ndarray (uint8, H×W×3); got {type(image).__name__}"
    )
